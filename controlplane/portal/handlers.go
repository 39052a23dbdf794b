package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// hotspotVars are what RouterOS's hotspot passes to its login page, as
// the portal accepts them (each checked; a bad one is dropped).
type hotspotVars struct {
	MAC, IP, Username       string
	LinkLoginOnly, LinkOrig string
	ChapID, ChapChallenge   string
	Error                   string
}

// maxVar bounds a hotspot variable's length.
const maxVar = 512

func parseVars(v url.Values) hotspotVars {
	get := func(k string, n int) string {
		s := strings.TrimSpace(v.Get(k))
		if len(s) > n {
			return ""
		}
		return s
	}
	return hotspotVars{
		MAC: cleanMAC(v.Get("mac")), IP: cleanIP(v.Get("ip")), Username: get("username", 64),
		LinkLoginOnly: cleanLink(v.Get("link-login-only")), LinkOrig: cleanLink(v.Get("link-orig")),
		ChapID: get("chap-id", 64), ChapChallenge: get("chap-challenge", 256), Error: get("error", 200),
	}
}

// cleanLink returns s if it is an absolute http(s) URL, else "".
func cleanLink(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxVar {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}

func (p *Portal) handleSlug(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	notFound := controlplane.Errorf(controlplane.ENOTFOUND, "no such portal")
	// /portal/{tenant id} is the tenant's portal too (the voucher cards'
	// QR code of a tenant without a slug); slugs are never all digits.
	tenant, err := strconv.ParseInt(slug, 10, 64)
	if err != nil || tenant <= 0 || strconv.FormatInt(tenant, 10) != slug {
		if !validSlug(slug) {
			p.pageError(w, r, notFound)
			return
		}
		set, err := p.o.Store.PortalSettingsBySlug(r.Context(), slug)
		if err != nil {
			p.pageError(w, r, err)
			return
		}
		tenant = set.TenantID
	}
	s, err := p.resolveTenant(r.Context(), tenant, r.URL.Query().Get("router"), notFound)
	if err != nil {
		p.pageError(w, r, err)
		return
	}
	p.render(w, r, s, pageState{vars: parseVars(r.URL.Query()), voucher: r.URL.Query().Get("voucher")})
}

func (p *Portal) handlePage(w http.ResponseWriter, r *http.Request) {
	s, err := p.resolve(r.Context(), r.PathValue("tenant"), r.PathValue("router"))
	if err != nil {
		p.pageError(w, r, err)
		return
	}
	p.render(w, r, s, pageState{vars: parseVars(r.URL.Query()), voucher: r.URL.Query().Get("voucher")})
}

// buyRequest is POST …/buy's body.
type buyRequest struct {
	PlanID int64  `json:"plan_id"`
	Phone  string `json:"phone"`
	MAC    string `json:"mac"`
	IP     string `json:"ip"`
}

// buyResponse answers POST …/buy with 202.
type buyResponse struct {
	PaymentID int64  `json:"payment_id"`
	Token     string `json:"token"`
	Channel   string `json:"channel"`
}

// PurchaseChannel is the channel a portal purchase's payment is announced
// on (as fanout.PurchaseChannel).
func PurchaseChannel(payment int64) string {
	return "private-purchase." + strconv.FormatInt(payment, 10)
}

func (p *Portal) handleBuy(w http.ResponseWriter, r *http.Request) {
	s, err := p.resolve(r.Context(), r.PathValue("tenant"), r.PathValue("router"))
	if err != nil {
		writeError(w, err)
		return
	}
	var req buyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	if err := dec.Decode(&req); err != nil {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "the request is not valid JSON"))
		return
	}
	phone, err := controlplane.NormalizePhone(req.Phone)
	if err != nil {
		writeError(w, controlplane.Errorf(controlplane.EINVALID, "Enter your M-Pesa number, like 0712 345 678."))
		return
	}
	plans, err := p.plans(r.Context(), s)
	if err != nil {
		writeError(w, err)
		return
	}
	var plan controlplane.Plan
	for _, pl := range plans {
		if pl.ID == req.PlanID {
			plan = pl
		}
	}
	if plan.ID == 0 {
		writeError(w, controlplane.Errorf(controlplane.ENOTFOUND, "That plan is not on sale here any more. Reload the page."))
		return
	}
	mac, ip := cleanMAC(req.MAC), cleanIP(req.IP)
	if !p.lim.allowSTK(p.o.Now(), phone, mac, ip, remoteAddr(r)) {
		p.rateLimited.Inc()
		p.log.Warn("stk push rate-limited", "tenant", s.tenant.ID, "mac", mac, "remote", remoteAddr(r))
		writeError(w, controlplane.Errorf(controlplane.ERATELIMIT, "Too many payment requests. Wait a few minutes and try again."))
		return
	}
	res, err := p.o.Billing.Purchase(r.Context(), principal(s.tenant.ID), controlplane.PurchaseRequest{PlanID: plan.ID, Phone: phone})
	if err != nil {
		switch controlplane.ErrorCode(err) {
		case controlplane.ECONFLICT:
			err = controlplane.Errorf(controlplane.ECONFLICT, "A payment request is already waiting on your phone. Answer it, or wait a minute and try again.")
		case controlplane.EUNAVAILABLE:
			err = controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa payments are not available here right now. Use a voucher, or call support.")
		case controlplane.EINVALID, controlplane.ENOTFOUND:
		default:
			p.log.Error("portal purchase", "tenant", s.tenant.ID, "err", err)
			err = controlplane.Errorf(controlplane.EINTERNAL, "Something went wrong. Try again.")
		}
		writeError(w, err)
		return
	}
	p.announce(controlplane.PortalPurchase{TenantID: s.tenant.ID, RouterID: s.routerID, PaymentID: res.PaymentID,
		PlanID: plan.ID, Phone: phone, MAC: mac, Status: res.Status})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, buyResponse{PaymentID: res.PaymentID, Token: p.tokens.Sign(s.tenant.ID, res.PaymentID),
		Channel: PurchaseChannel(res.PaymentID)})
}

// purchaseStatus answers GET …/purchase/{payment}.
type purchaseStatus struct {
	Status      string                    `json:"status"`
	Reason      string                    `json:"reason,omitempty"`
	Credentials *controlplane.Credentials `json:"credentials,omitempty"`
}

func (p *Portal) handlePurchase(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s, err := p.resolve(r.Context(), r.PathValue("tenant"), r.PathValue("router"))
	if err != nil {
		writeError(w, err)
		return
	}
	tenant, payment, err := p.tokens.Verify(r.URL.Query().Get("token"))
	if err != nil || tenant != s.tenant.ID || strconv.FormatInt(payment, 10) != r.PathValue("payment") {
		writeError(w, controlplane.Errorf(controlplane.EUNAUTHORIZED, "This payment link has expired. Start again."))
		return
	}
	pay, err := p.o.Billing.GetPayment(r.Context(), tenant, payment)
	if err != nil {
		writeError(w, err)
		return
	}
	out := purchaseStatus{Status: string(pay.Status)}
	switch pay.Status {
	case controlplane.PaymentCompleted:
		creds, err := p.awaitCredentials(r.Context(), tenant, payment)
		if err != nil {
			writeError(w, err)
			return
		}
		p.waitReady(r.Context(), tenant, s.routerID, creds.Username)
		out.Credentials = &creds
	case controlplane.PaymentFailed:
		out.Reason = failureWords(pay.ResultCode)
	case controlplane.PaymentFlagged:
		out.Reason = "Your payment needs a check by the operator. Call support with your M-Pesa message."
	}
	if pay.Status != controlplane.PaymentPending {
		p.announce(controlplane.PortalPurchase{TenantID: tenant, RouterID: s.routerID, PaymentID: payment,
			PlanID: pay.PlanID, Phone: pay.Phone, Status: string(pay.Status)})
	}
	writeJSON(w, http.StatusOK, out)
}

// awaitCredentials returns a completed payment's login once billing made
// its account (a job that runs just after the payment completes).
func (p *Portal) awaitCredentials(ctx context.Context, tenant, payment int64) (controlplane.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, p.o.ReadyWait)
	defer cancel()
	for {
		c, err := p.o.Billing.PaymentCredentials(ctx, tenant, payment)
		if err == nil || controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, controlplane.Errorf(controlplane.EUNAVAILABLE, "Your payment arrived; your login is still being made. Reload in a minute.")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// failureWords says why an STK push failed, by M-Pesa's ResultCode.
func failureWords(code *int) string {
	if code == nil {
		return "The payment did not go through. Try again."
	}
	switch *code {
	case 1032:
		return "You cancelled the M-Pesa request. Try again when you are ready."
	case 1037:
		return "Your phone could not be reached in time. Check it is on and try again."
	case 1:
		return "Your M-Pesa balance is too low for this plan."
	case 2001:
		return "The M-Pesa PIN was wrong. Try again."
	case 1001:
		return "Another M-Pesa request is in progress on your phone. Wait a minute and try again."
	}
	return "The payment did not go through. Try again."
}

func (p *Portal) handleVoucher(w http.ResponseWriter, r *http.Request) {
	s, err := p.resolve(r.Context(), r.PathValue("tenant"), r.PathValue("router"))
	if err != nil {
		p.pageError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		p.pageError(w, r, controlplane.Errorf(controlplane.EINVALID, "The form was not valid. Reload the page."))
		return
	}
	vars := parseVars(r.PostForm)
	raw := strings.TrimSpace(r.PostForm.Get("code"))
	code := normalizeCode(raw)
	st := pageState{vars: vars, voucher: code, tab: "voucher"}
	now := p.o.Now()
	lockKey := vars.MAC
	if lockKey == "" {
		lockKey = "ip:" + vars.IP + "@" + remoteAddr(r)
	}
	if p.lim.macLocked(now, lockKey) {
		p.rateLimited.Inc()
		st.voucherErr = "Too many wrong codes from this device. Wait 15 minutes and try again."
		p.renderStatus(w, r, s, st, http.StatusTooManyRequests)
		return
	}
	if !p.lim.allowVoucher(now, vars.IP, remoteAddr(r)) {
		p.rateLimited.Inc()
		st.voucherErr = "Too many attempts. Wait a few minutes and try again."
		p.renderStatus(w, r, s, st, http.StatusTooManyRequests)
		return
	}
	if p.o.Vouchers == nil {
		st.voucherErr = "Vouchers are not sold here."
		p.renderStatus(w, r, s, st, http.StatusServiceUnavailable)
		return
	}
	if raw == "" {
		st.voucherErr = "Enter the code printed on your voucher."
		p.renderStatus(w, r, s, st, http.StatusBadRequest)
		return
	}
	var red controlplane.Redemption
	err = controlplane.Errorf(controlplane.EINVALID, "voucher not valid")
	if code != "" {
		red, err = p.o.Vouchers.RedeemVoucher(r.Context(), controlplane.RedeemRequest{TenantID: s.tenant.ID, Code: code,
			RouterID: s.routerID, MAC: vars.MAC, IP: vars.IP})
	}
	if err != nil {
		switch controlplane.ErrorCode(err) {
		case controlplane.ENOTFOUND, controlplane.EINVALID:
			p.voucherFailures.Inc()
			locked := p.lim.voucherFailed(now, lockKey)
			p.log.Warn("wrong voucher code", "tenant", s.tenant.ID, "router", s.routerID, "mac", vars.MAC,
				"remote", remoteAddr(r), "locked", locked)
			st.voucherErr = "That voucher code is not valid. Check the code and try again."
			if locked {
				st.voucherErr = "Too many wrong codes from this device. Wait 15 minutes and try again."
			}
			p.renderStatus(w, r, s, st, http.StatusOK)
		default:
			p.log.Error("redeem voucher", "tenant", s.tenant.ID, "err", err)
			st.voucherErr = "Something went wrong. Try again."
			p.renderStatus(w, r, s, st, http.StatusInternalServerError)
		}
		return
	}
	p.waitReady(r.Context(), s.tenant.ID, s.routerID, red.Credentials.Username)
	p.renderLogin(w, r, s, vars, red.Credentials)
}

// normalizeCode is a voucher code as typed, upper-cased, without spaces
// and dashes; "" when it holds anything but letters and digits.
func normalizeCode(c string) string {
	c = strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, c))
	if len(c) > 40 {
		return ""
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return ""
		}
	}
	return c
}

// writeJSON answers with v.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers with the control plane's error body; messages are
// the portal's own words, safe for the customer.
func writeError(w http.ResponseWriter, err error) {
	code := controlplane.ErrorCode(err)
	msg := controlplane.ErrorMessage(err)
	var e *controlplane.Error
	if !errors.As(err, &e) {
		msg = "Something went wrong. Try again."
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, controlplane.HTTPStatus(code), struct {
		Error body `json:"error"`
	}{body{code, msg}})
}
