package main

import (
	"slices"
	"strings"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

// normalCheckout is apply_discounts' input (the checkout type), so the two
// chain; unlike it, every line carries its tags, even none.
type normalCheckout struct {
	Cart normalCart `json:"cart"`
}

type normalCart struct {
	Currency string       `json:"currency"`
	Lines    []normalLine `json:"lines"`
}

type normalLine struct {
	SKU       string   `json:"sku"`
	Quantity  uint64   `json:"quantity"`
	UnitPrice uint64   `json:"unit_price"`
	Tags      []string `json:"tags"`
}

//go:wasmexport normalize_cart
func normalizeCartExport() int32 { return polyplug.Handle(normalizeCart) }

func normalizeCart(in checkout) (normalCheckout, error) {
	// strings.TrimSpace trims unicode.IsSpace, exactly the White_Space
	// property; case mapping is ASCII only, as the contract says.
	currency := asciiUpper(strings.TrimSpace(in.Cart.Currency))
	if !isCurrencyCode(currency) {
		return normalCheckout{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"`cart.currency`: expected three letters A-Z once trimmed and uppercased, got %q", in.Cart.Currency)
	}
	// Every line is checked, quantity 0 or not, before any is merged.
	normalized := make([]normalLine, len(in.Cart.Lines))
	for i, l := range in.Cart.Lines {
		sku := asciiUpper(strings.TrimSpace(l.SKU))
		if sku == "" {
			return normalCheckout{}, polyplug.Errorf(polyplug.CodeInvalidInput,
				"`cart.lines[%d].sku` is empty once trimmed", i)
		}
		var tags []string
		for _, tag := range l.Tags {
			if tag = asciiLower(strings.TrimSpace(tag)); tag != "" {
				tags = append(tags, tag)
			}
		}
		normalized[i] = normalLine{SKU: sku, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Tags: tags}
	}

	out := normalCheckout{Cart: normalCart{Currency: currency, Lines: []normalLine{}}}
	position := map[string]int{}
	// A price conflict is reported only if nothing in the input is invalid,
	// so the first one waits until every quantity has been summed.
	var conflict *polyplug.Error
	for _, l := range normalized {
		if l.Quantity == 0 {
			continue
		}
		first, seen := position[l.SKU]
		if !seen {
			position[l.SKU] = len(out.Cart.Lines)
			out.Cart.Lines = append(out.Cart.Lines, l)
			continue
		}
		merged := &out.Cart.Lines[first]
		if merged.UnitPrice != l.UnitPrice && conflict == nil {
			conflict = polyplug.Errorf("price_conflict",
				"sku `%s` comes at unit prices %d and %d", l.SKU, merged.UnitPrice, l.UnitPrice)
		}
		merged.Quantity += l.Quantity // both are at most 2^53-1, so this cannot wrap
		if merged.Quantity > polyplug.MaxSafeInteger {
			return normalCheckout{}, polyplug.Errorf(polyplug.CodeInvalidInput,
				"sku `%s`: the merged quantity exceeds 2^53-1", l.SKU)
		}
		merged.Tags = append(merged.Tags, l.Tags...)
	}
	if conflict != nil {
		return normalCheckout{}, conflict
	}
	for i := range out.Cart.Lines {
		// Go orders strings by their UTF-8 bytes: the order of scalar values.
		tags := out.Cart.Lines[i].Tags
		slices.Sort(tags)
		out.Cart.Lines[i].Tags = slices.Compact(tags)
	}
	return out, nil
}

// asciiUpper maps a-z to A-Z and leaves every other character as it is.
func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// asciiLower maps A-Z to a-z and leaves every other character as it is.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r - 'A' + 'a'
		}
		return r
	}, s)
}
