package main

import (
	"unicode"
	"unicode/utf8"

	polyplug "github.com/polyplug/polyplug/sdk/go"
)

type analyzeInput struct {
	Text string `json:"text"`
}

type textStats struct {
	Bytes       int    `json:"bytes"`
	Chars       int    `json:"chars"`
	Words       int    `json:"words"`
	LongestWord string `json:"longest_word"`
}

//go:wasmexport analyze_text
func analyzeTextExport() int32 { return polyplug.Handle(analyzeText) }

func analyzeText(in analyzeInput) (textStats, error) {
	stats := textStats{Bytes: len(in.Text), Chars: utf8.RuneCountInString(in.Text)}
	longest := 0
	wordStart, wordChars := 0, 0
	// A sentinel space after the text closes the last word in the same branch
	// as the others. unicode.IsSpace is exactly the White_Space property.
	for i, r := range in.Text + " " {
		if !unicode.IsSpace(r) {
			if wordChars == 0 {
				wordStart = i
			}
			wordChars++
			continue
		}
		if wordChars == 0 {
			continue
		}
		stats.Words++
		if wordChars > longest {
			longest, stats.LongestWord = wordChars, in.Text[wordStart:i]
		}
		wordChars = 0
	}
	return stats, nil
}
