package main

import polyplug "github.com/polyplug/polyplug/sdk/go"

// taxedCart is apply_discounts' output (pricedCart) with the tax added.
type taxedCart struct {
	Currency     string       `json:"currency"`
	Lines        []pricedLine `json:"lines"`
	Subtotal     uint64       `json:"subtotal"`
	Discount     uint64       `json:"discount"`
	Total        uint64       `json:"total"`
	TaxRateBP    uint64       `json:"tax_rate_bp"`
	Tax          uint64       `json:"tax"`
	TotalWithTax uint64       `json:"total_with_tax"`
}

// maxRateBP is 100% in basis points, the highest rate `tax_rate_bp` may hold.
const maxRateBP = 10_000

//go:wasmexport add_tax
func addTaxExport() int32 { return polyplug.Handle(addTax) }

func addTax(in pricedCart) (taxedCart, error) {
	// Everything the input alone decides is checked before the rate is
	// read: when both are malformed, the contract reports the input.
	if !isCurrencyCode(in.Currency) {
		return taxedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"`currency`: expected three letters A-Z, got %q", in.Currency)
	}
	var subtotal, discount uint64
	for i, l := range in.Lines {
		if !addsUp(l.Subtotal, l.Discount, l.Total) {
			return taxedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
				"`lines[%d]`: total %d is not subtotal %d - discount %d", i, l.Total, l.Subtotal, l.Discount)
		}
		// Held at 2^53 once past 2^53-1, where no sum can match the cart's
		// amount; so the sums never wrap.
		subtotal = min(subtotal+l.Subtotal, polyplug.MaxSafeInteger+1)
		discount = min(discount+l.Discount, polyplug.MaxSafeInteger+1)
	}
	if subtotal != in.Subtotal || discount != in.Discount || !addsUp(in.Subtotal, in.Discount, in.Total) {
		return taxedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"the cart's subtotal, discount and total are not the sums of its lines'")
	}

	rate, err := taxRateBP()
	if err != nil {
		return taxedCart{}, err
	}
	// Halves round up. total * rate can pass 2^64; with total = q*10000 + r
	// it is never formed, and every term stays below 2^53.
	q, r := in.Total/10_000, in.Total%10_000
	tax := q*rate + (r*rate+5_000)/10_000
	out := taxedCart{
		Currency: in.Currency, Lines: in.Lines,
		Subtotal: in.Subtotal, Discount: in.Discount, Total: in.Total,
		TaxRateBP: rate, Tax: tax, TotalWithTax: in.Total + tax, // tax <= total: no wrap
	}
	if out.TotalWithTax > polyplug.MaxSafeInteger {
		return taxedCart{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"total %d plus tax %d exceeds 2^53-1", in.Total, tax)
	}
	return out, nil
}

func addsUp(subtotal, discount, total uint64) bool {
	return discount <= subtotal && total == subtotal-discount
}

// taxRateBP reads the `tax_rate_bp` config value, which must be set: a tax
// step that silently taxes nothing is a misconfiguration.
func taxRateBP() (uint64, error) {
	var rate uint64
	set, err := polyplug.ConfigJSON("tax_rate_bp", &rate)
	if err != nil {
		return 0, err
	}
	if !set {
		return 0, polyplug.Errorf(polyplug.CodeInvalidConfig, "config `tax_rate_bp` is not set")
	}
	if rate > maxRateBP {
		return 0, polyplug.Errorf(polyplug.CodeInvalidConfig,
			"config `tax_rate_bp`: expected 0..=%d basis points, got %d", maxRateBP, rate)
	}
	return rate, nil
}
