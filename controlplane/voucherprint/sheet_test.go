package voucherprint

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// tool returns the path of a poppler or zbar program; without it the test
// skips on a laptop and fails in CI, where .ci/run installs them.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (poppler-utils, zbar-tools): %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install poppler-utils zbar-tools)", name)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool(t, name), args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr)
	}
	return string(out)
}

func logoURI(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA64(image.Rect(0, 0, 40, 20)) // 16-bit: re-encoded for fpdf
	for x := range 40 {
		for y := range 20 {
			img.Set(x, y, color.RGBA64{R: uint16(x * 1600), G: 0x8000, B: 0xffff, A: 0xffff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

func sheet(n int, logo string) Sheet {
	until := time.Date(2026, 4, 30, 21, 30, 0, 0, time.UTC)
	b := controlplane.VoucherBatch{ID: 7, TenantID: 3, Prefix: "KW", PlanName: "1 hour", Price: controlplane.KES(5000), ExpiresAt: &until,
		CreatedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	s := Sheet{Tenant: "Kahawa WiFi Café", LogoURL: logo, PortalURL: "http://127.0.0.1:8080/portal/kahawa", Batch: b}
	alphabet := controlplane.VoucherAlphabet
	for i := range n {
		code := "KW"
		for j := range 8 {
			code += string(alphabet[(i*7+j*3)%len(alphabet)])
		}
		s.Vouchers = append(s.Vouchers, controlplane.Voucher{ID: int64(100 + i), BatchID: b.ID, PlanName: b.PlanName,
			Code: code, Price: b.Price, ExpiresAt: &until})
	}
	return s
}

// TestSheetRendersAndQRCodesDecode renders a batch of twelve (two pages),
// rasterises it with pdftoppm at 100 dpi and decodes every QR code with
// zbarimg: each is the portal URL with its card's code.
func TestSheetRendersAndQRCodesDecode(t *testing.T) {
	for name, logo := range map[string]string{"logo": logoURI(t), "remote logo": "https://example.com/logo.png", "broken logo": "data:image/png;base64,AAAA"} {
		t.Run(name, func(t *testing.T) {
			s := sheet(12, logo)
			s.Location, _ = time.LoadLocation("Africa/Nairobi")
			var buf bytes.Buffer
			if err := Render(&buf, s); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "vouchers.pdf")
			if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if info := run(t, "pdfinfo", file); !regexp.MustCompile(`Pages:\s+2\n`).MatchString(info) || !strings.Contains(info, "(A4)") {
				t.Fatalf("pdfinfo:\n%s", info)
			}
			run(t, "pdftoppm", "-png", "-r", "100", file, filepath.Join(dir, "page"))
			pages, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
			if len(pages) != 2 {
				t.Fatalf("pdftoppm made %v, want 2 pages", pages)
			}
			got := strings.Fields(run(t, "zbarimg", append([]string{"--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"}, pages...)...))
			var want []string
			for _, v := range s.Vouchers {
				want = append(want, s.PortalURL+"?voucher="+v.Code)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("QR codes decode to\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			text := run(t, "pdftotext", "-layout", file, "-")
			for _, w := range []string{"Kahawa WiFi Café", "1 hour", "KES 50.00", "Use by 1 May 2026", group("KW", s.Vouchers[11].Code)} {
				if !strings.Contains(text, w) {
					t.Errorf("sheet text lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestLogoOnlyInline(t *testing.T) {
	if _, ok := decodeLogo(logoURI(t)); !ok {
		t.Fatal("a PNG data: URI was refused")
	}
	big := image.NewGray(image.Rect(0, 0, 4000, 2000))
	var b bytes.Buffer
	png.Encode(&b, big)
	for _, u := range []string{"https://example.com/logo.png", "data:text/html;base64,PGI+", "data:image/png;base64,!!",
		"data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())} {
		if _, ok := decodeLogo(u); ok {
			t.Errorf("logo %.40q accepted", u)
		}
	}
}

func TestRenderRefusesAnEmptySheet(t *testing.T) {
	err := Render(&bytes.Buffer{}, Sheet{})
	if controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("empty sheet: %v", err)
	}
}

func ExampleCardURL() {
	fmt.Println(CardURL("https://cp.example.com/portal/kahawa", "KW3A4CDE"))
	// Output: https://cp.example.com/portal/kahawa?voucher=KW3A4CDE
}

// FuzzDecodeLogo feeds the logo decoder what a tenant may store as its
// portal logo: it never panics, and what it accepts is a PNG fpdf embeds.
func FuzzDecodeLogo(f *testing.F) {
	f.Add("data:image/png;base64,AAAA")
	f.Add("https://example.com/logo.png")
	f.Add("data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==")
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)))
	f.Add("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
	f.Fuzz(func(t *testing.T, uri string) {
		img, ok := decodeLogo(uri)
		if !ok {
			return
		}
		if _, err := png.DecodeConfig(bytes.NewReader(img)); err != nil {
			t.Fatalf("accepted %.60q but made no PNG: %v", uri, err)
		}
	})
}
