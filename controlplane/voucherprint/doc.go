// Package voucherprint renders voucher batches as PDF: A4 sheets of cards
// to cut out, each with the tenant's logo and name, the plan, its price,
// the code in large monospace, the date it must be used by, and a QR code
// of the captive portal's address with the code filled in, so a customer
// on the hotspot scans it instead of typing.
//
// The PDF is made with codeberg.org/go-pdf/fpdf (the maintained
// continuation of jung-kurt/gofpdf, pure Go, core fonts built in: no font
// files, no cgo) and the QR codes with github.com/skip2/go-qrcode (pure
// Go, no dependencies, PNG output fpdf embeds). Neither fetches anything:
// a logo is printed only when given inline as a data: URI.
package voucherprint
