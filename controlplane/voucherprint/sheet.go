package voucherprint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // logos may be JPEG
	"image/png"
	"io"
	"net/url"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/skip2/go-qrcode"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Sheet is what one PDF prints: the vouchers of a batch and the branding
// around them.
type Sheet struct {
	Tenant string // shown on every card
	// LogoURL is the portal's logo; only a data: URI of a PNG or JPEG is
	// printed. Anything else (an https URL, a broken image) is left out:
	// the server never fetches a URL a tenant typed.
	LogoURL string
	// PortalURL is the portal's address, {public-url}/portal/{slug}; each
	// card's QR code is PortalURL?voucher=CODE.
	PortalURL string
	Batch     controlplane.VoucherBatch
	Vouchers  []controlplane.Voucher
	// Location formats the valid-until date; nil means UTC.
	Location *time.Location
}

// Page layout in millimetres: A4 portrait, two columns of five cards.
const (
	pageW, pageH   = 210.0, 297.0
	cols, rows     = 2, 5
	cardW, cardH   = 95.0, 55.0
	marginX        = (pageW - cols*cardW) / 2
	marginY        = (pageH - rows*cardH) / 2
	pad            = 4.0
	qrSize         = 36.0
	maxLogoPixels  = 4 << 20 // decoded size bound: a small data: URI can inflate to a huge image
	codeFontMax    = 18.0
	perPage        = cols * rows
	monospaceRatio = 0.6 // Courier's advance width per point of size
)

// CardURL is the portal address a card's QR code holds.
func CardURL(portal, code string) string {
	return portal + "?voucher=" + url.QueryEscape(code)
}

// Render writes the sheet's PDF to w: as many A4 pages as the vouchers
// need, ten cards a page.
func Render(w io.Writer, s Sheet) error {
	if len(s.Vouchers) == 0 {
		return controlplane.Errorf(controlplane.EINVALID, "voucher sheet: no vouchers")
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(s.Batch.CreatedAt)
	pdf.SetModificationDate(s.Batch.CreatedAt)
	pdf.SetTitle(fmt.Sprintf("%s vouchers, batch %d", s.Tenant, s.Batch.ID), true)
	pdf.SetCreator("SitePulse", true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(0, 0, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: the core fonts' encoding

	logo := false
	if img, ok := decodeLogo(s.LogoURL); ok {
		pdf.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(img))
		logo = pdf.Ok()
		if !logo {
			pdf.ClearError()
		}
	}
	until := "No expiry"
	if s.Batch.ExpiresAt != nil {
		until = "Use by " + s.Batch.ExpiresAt.In(loc).Format("2 Jan 2006")
	}
	for i, v := range s.Vouchers {
		if i%perPage == 0 {
			pdf.AddPage()
		}
		n := i % perPage
		x, y := marginX+float64(n%cols)*cardW, marginY+float64(n/cols)*cardH
		if err := card(pdf, tr, s, v, x, y, logo, until); err != nil {
			return err
		}
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("voucher sheet: %w", err)
	}
	return nil
}

// card draws voucher v's card with its top left corner at x, y.
func card(pdf *fpdf.Fpdf, tr func(string) string, s Sheet, v controlplane.Voucher, x, y float64, logo bool, until string) error {
	// Cut lines.
	pdf.SetDrawColor(170, 170, 170)
	pdf.SetLineWidth(0.2)
	pdf.SetDashPattern([]float64{2, 1.5}, 0)
	pdf.Rect(x, y, cardW, cardH, "D")
	pdf.SetDashPattern(nil, 0)

	q, err := qrcode.New(CardURL(s.PortalURL, v.Code), qrcode.Medium)
	if err != nil {
		return fmt.Errorf("voucher %d: qr code: %w", v.ID, err)
	}
	q.DisableBorder = true // the card's white space is the quiet zone
	img, err := q.PNG(-8)
	if err != nil {
		return fmt.Errorf("voucher %d: qr code: %w", v.ID, err)
	}
	name := fmt.Sprintf("qr%d", v.ID)
	pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(img))
	qx, qy := x+cardW-pad-1-qrSize, y+pad+1
	pdf.ImageOptions(name, qx, qy, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")

	left, textW := x+pad+1, cardW-qrSize-3*pad-2
	ty := y + pad + 1
	pdf.SetTextColor(20, 20, 20)
	if logo {
		pdf.ImageOptions("logo", left, ty, 0, 9, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		ty += 10
	}
	pdf.SetFont("Helvetica", "B", 11)
	pdf.SetXY(left, ty)
	pdf.CellFormat(textW, 5, fit(pdf, tr(s.Tenant), textW), "", 0, "L", false, 0, "")
	ty += 7
	pdf.SetFont("Helvetica", "", 10)
	pdf.SetXY(left, ty)
	pdf.CellFormat(textW, 5, fit(pdf, tr(v.PlanName), textW), "", 0, "L", false, 0, "")
	ty += 6
	pdf.SetFont("Helvetica", "B", 13)
	pdf.SetXY(left, ty)
	pdf.CellFormat(textW, 6, v.Price.String(), "", 0, "L", false, 0, "")
	ty += 8
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(90, 90, 90)
	pdf.SetXY(left, ty)
	pdf.CellFormat(textW, 4, until, "", 0, "L", false, 0, "")
	pdf.SetXY(qx, qy+qrSize+0.5)
	pdf.CellFormat(qrSize, 3.5, "Scan on the WiFi", "", 0, "C", false, 0, "")

	// The code across the bottom, grouped in fours, as large as fits.
	code := group(s.Batch.Prefix, v.Code)
	w := cardW - 2*pad - 2
	size := min(codeFontMax, w/(float64(len(code))*monospaceRatio)*72/25.4)
	pdf.SetFont("Courier", "B", size)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetXY(left, y+cardH-pad-6.5)
	pdf.CellFormat(w, 6, code, "", 0, "C", false, 0, "")
	if !pdf.Ok() {
		return fmt.Errorf("voucher %d: %w", v.ID, pdf.Error())
	}
	return nil
}

// group splits a code into its prefix and dash-separated fours for
// reading off paper (the portal drops the dashes again).
func group(prefix, code string) string {
	var b strings.Builder
	rest, ok := strings.CutPrefix(code, prefix)
	if ok && prefix != "" {
		b.WriteString(prefix + "-")
	} else {
		rest = code
	}
	for i, c := range rest {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fit shortens s with an ellipsis until it fits w in the current font.
func fit(pdf *fpdf.Fpdf, s string, w float64) string {
	if pdf.GetStringWidth(s) <= w {
		return s
	}
	for len(s) > 1 && pdf.GetStringWidth(s+"...") > w {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// errNoLogo says why a logo is left out.
var errNoLogo = errors.New("not an inline PNG or JPEG")

// decodeLogo returns a data: URI's PNG or JPEG as an 8-bit PNG fpdf can
// embed, or false.
func decodeLogo(uri string) ([]byte, bool) {
	b, err := logoBytes(uri)
	return b, err == nil
}

func logoBytes(uri string) ([]byte, error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(uri, "data:"), ",")
	if !ok || !strings.HasPrefix(uri, "data:") {
		return nil, errNoLogo
	}
	switch strings.ToLower(strings.ReplaceAll(meta, " ", "")) {
	case "image/png;base64", "image/jpeg;base64", "image/jpg;base64":
	default:
		return nil, errNoLogo
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
	if err != nil {
		return nil, errNoLogo
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxLogoPixels {
		return nil, errNoLogo
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, errNoLogo
	}
	// Re-encoded as 8-bit RGBA: fpdf refuses 16-bit and interlaced PNGs.
	dst := image.NewNRGBA(src.Bounds())
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, errNoLogo
	}
	return out.Bytes(), nil
}
