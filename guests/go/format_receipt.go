package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

// receiptInput holds the fields of add_tax's output (taxedCart) that a
// receipt prints.
type receiptInput struct {
	Currency     string        `json:"currency"`
	Lines        []receiptLine `json:"lines"`
	Subtotal     uint64        `json:"subtotal"`
	Discount     uint64        `json:"discount"`
	TaxRateBP    uint64        `json:"tax_rate_bp"`
	Tax          uint64        `json:"tax"`
	TotalWithTax uint64        `json:"total_with_tax"`
}

type receiptLine struct {
	SKU      string `json:"sku"`
	Subtotal uint64 `json:"subtotal"`
	Discount uint64 `json:"discount"`
}

type receipt struct {
	Receipt string `json:"receipt"`
}

// receiptWidth is the width of every row in Unicode scalar values (runes).
const receiptWidth = 40

//go:wasmexport format_receipt
func formatReceiptExport() int32 { return polyplug.Handle(formatReceipt) }

func formatReceipt(in receiptInput) (receipt, error) {
	if !isCurrencyCode(in.Currency) {
		return receipt{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"`currency`: expected three letters A-Z, got %q", in.Currency)
	}
	if in.TaxRateBP > maxRateBP {
		return receipt{}, polyplug.Errorf(polyplug.CodeInvalidInput,
			"`tax_rate_bp`: expected 0..=%d, got %d", maxRateBP, in.TaxRateBP)
	}
	p := printer{currency: in.Currency, decimals: decimalsOf(in.Currency)}
	for _, l := range in.Lines {
		// A control character would break the layout: it prints as U+FFFD.
		sku := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) { // exactly the category Cc
				return utf8.RuneError
			}
			return r
		}, l.SKU)
		p.row(sku, p.amount(l.Subtotal, ""))
		if l.Discount > 0 {
			p.row("  discount", p.amount(l.Discount, "-"))
		}
	}
	p.text.WriteString(strings.Repeat("-", receiptWidth) + "\n")
	p.row("Subtotal", p.amount(in.Subtotal, ""))
	sign := ""
	if in.Discount > 0 {
		sign = "-"
	}
	p.row("Discount", p.amount(in.Discount, sign))
	p.row("Tax "+decimal(in.TaxRateBP, 2)+"%", p.amount(in.Tax, ""))
	p.row("Total", p.amount(in.TotalWithTax, ""))
	return receipt{Receipt: p.text.String()}, nil
}

type printer struct {
	currency string
	decimals int
	text     strings.Builder
}

// amount prints minor units as a decimal, then the currency: "-3.99 EUR".
func (p *printer) amount(minor uint64, sign string) string {
	return sign + decimal(minor, p.decimals) + " " + p.currency
}

// row writes label left and amount (ASCII) right, receiptWidth runes in all;
// a label that leaves no space before the amount is cut with "…".
func (p *printer) row(label, amount string) {
	room := receiptWidth - 1 - len(amount)
	width := utf8.RuneCountInString(label)
	if width > room {
		label = firstRunes(label, room-1) + "…"
		width = room
	}
	p.text.WriteString(label)
	p.text.WriteString(strings.Repeat(" ", receiptWidth-width-len(amount)))
	p.text.WriteString(amount)
	p.text.WriteByte('\n')
}

// firstRunes returns the first n runes of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// decimal prints value with the given number of digits after the point:
// decimal(5, 2) is "0.05".
func decimal(value uint64, decimals int) string {
	digits := strconv.FormatUint(value, 10)
	if decimals == 0 {
		return digits
	}
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals+1-len(digits)) + digits
	}
	point := len(digits) - decimals
	return digits[:point] + "." + digits[point:]
}

// decimalsOf is the contract's table of decimals per currency (from ISO 4217).
func decimalsOf(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
		"UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}
