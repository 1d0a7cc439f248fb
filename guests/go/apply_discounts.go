package main

import (
	"fmt"
	"math/bits"
	"slices"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

type checkout struct {
	Cart cart `json:"cart"`
}

type cart struct {
	Currency string `json:"currency"`
	Lines    []line `json:"lines"`
}

type line struct {
	SKU       string   `json:"sku"`
	Quantity  uint64   `json:"quantity"`
	UnitPrice uint64   `json:"unit_price"`
	Tags      []string `json:"tags,omitempty"`
}

// rule is one entry of the `rules` config value. Every field but ID may be
// absent; only Tag needs a pointer, because a zero percent, amount_off or
// min_quantity acts exactly like an absent one.
type rule struct {
	ID          string  `json:"id"`
	Percent     uint64  `json:"percent,omitempty"`
	AmountOff   uint64  `json:"amount_off,omitempty"`
	Tag         *string `json:"tag,omitempty"`
	MinQuantity uint64  `json:"min_quantity,omitempty"`
}

type pricedCart struct {
	Currency string       `json:"currency"`
	Lines    []pricedLine `json:"lines"`
	Subtotal uint64       `json:"subtotal"`
	Discount uint64       `json:"discount"`
	Total    uint64       `json:"total"`
}

type pricedLine struct {
	SKU      string   `json:"sku"`
	Subtotal uint64   `json:"subtotal"`
	Discount uint64   `json:"discount"`
	Total    uint64   `json:"total"`
	Applied  []string `json:"applied"`
}

//go:wasmexport apply_discounts
func applyDiscountsExport() int32 { return polyplug.Handle(applyDiscounts) }

func applyDiscounts(in checkout) (pricedCart, error) {
	// Everything the input alone decides is checked before the rules are
	// read: when both are malformed, the contract reports the input.
	if !isCurrencyCode(in.Cart.Currency) {
		return pricedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"`cart.currency`: expected three letters A-Z, got %q", in.Cart.Currency)
	}
	out := pricedCart{Currency: in.Cart.Currency, Lines: make([]pricedLine, len(in.Cart.Lines))}
	for i, l := range in.Cart.Lines {
		subtotal, ok := safeProduct(l.Quantity, l.UnitPrice)
		if !ok {
			return pricedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
				"`cart.lines[%d]`: quantity * unit_price exceeds 2^53-1", i)
		}
		out.Subtotal += subtotal // each is at most 2^53-1, so this cannot wrap
		if out.Subtotal > polyplug.MaxSafeInteger {
			return pricedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
				"cart subtotal exceeds %d", uint64(polyplug.MaxSafeInteger))
		}
		out.Lines[i] = pricedLine{SKU: l.SKU, Subtotal: subtotal, Applied: []string{}}
	}

	// Read on every call, even for a cart with no lines, so that malformed
	// rules never go unnoticed.
	rules, err := loadRules()
	if err != nil {
		return pricedCart{}, err
	}
	for i, l := range in.Cart.Lines {
		priced := &out.Lines[i]
		if err := applyRules(priced, l, rules); err != nil {
			return pricedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput, "`cart.lines[%d]`: %v", i, err)
		}
		out.Discount += priced.Discount
		out.Total += priced.Total
	}
	return out, nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// loadRules reads the `rules` config value; an absent value means no rules.
func loadRules() ([]rule, error) {
	var rules []rule
	if _, err := polyplug.ConfigJSON("rules", &rules); err != nil {
		return nil, err
	}
	for _, r := range rules {
		if r.Percent > 100 {
			return nil, polyplug.Errorf(polyplug.CodeInvalidConfig,
				"config `rules`: rule `%s` has percent %d, above 100", r.ID, r.Percent)
		}
	}
	return rules, nil
}

// applyRules applies every matching rule to a line whose subtotal is set.
// Each contribution is computed on the line subtotal; their sum is capped at
// the subtotal as it grows, which gives min(sum, subtotal) exactly without an
// overflowing sum.
func applyRules(priced *pricedLine, l line, rules []rule) error {
	for _, r := range rules {
		if !r.matches(l) {
			continue
		}
		// subtotal <= 2^53-1 and percent <= 100, so the product fits in 64 bits.
		contribution := priced.Subtotal * r.Percent / 100
		off, ok := safeProduct(r.AmountOff, l.Quantity)
		if !ok {
			return fmt.Errorf("amount_off * quantity of rule `%s` exceeds 2^53-1", r.ID)
		}
		priced.Discount = min(priced.Discount+contribution+off, priced.Subtotal)
		priced.Applied = append(priced.Applied, r.ID)
	}
	priced.Total = priced.Subtotal - priced.Discount
	return nil
}

func (r rule) matches(l line) bool {
	return (r.Tag == nil || slices.Contains(l.Tags, *r.Tag)) && l.Quantity >= r.MinQuantity
}

// safeProduct returns a*b and whether it is at most 2^53-1.
func safeProduct(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0 && lo <= polyplug.MaxSafeInteger
}
