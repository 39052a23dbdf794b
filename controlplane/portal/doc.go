// Package portal is the captive portal a hotspot sends unauthenticated
// devices to: a small server-rendered page per tenant and router (or the
// tenant's slug) that sells the tenant's plans with M-Pesa, redeems
// vouchers and logs the device in on the router the way RouterOS's own
// login.html does (PAP, or CHAP with hexMD5(chap-id + password +
// chap-challenge)).
//
// The page is plain HTML with its CSS and a small hand-written script
// inlined (a Pusher-protocol WebSocket client, MD5 and the login), under
// 100 KB compressed; the voucher form and the login form work without
// JavaScript. A purchase waits on its own channel private-purchase.{payment},
// which only the holder of the purchase's portal token (an HMAC of tenant,
// payment and expiry) may join.
//
// Abuse limits are in memory, per process (a restart or another replica
// starts counting afresh): STK pushes per phone, per device MAC and per
// device IP, voucher attempts per MAC and per IP, with a MAC locked after
// repeated wrong codes. See Limits.
package portal
