package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// PurchaseChannel is the private channel of one purchase: the captive
// portal page that started payment waits on it for PaymentCompleted or
// PaymentFailed (the payment as on the tenant's payments channel, masked
// alike).
func PurchaseChannel(payment int64) string {
	return "private-purchase." + strconv.FormatInt(payment, 10)
}

// publishPurchase publishes a payment's outcome on its purchase channel.
// Without a seq: each channel lives for one purchase, and a per-channel
// counter would grow the fan-out's state by one entry per payment.
func (f *Fanout) publishPurchase(p controlplane.Payment) {
	event := PaymentEvent(p.Status)
	if event != EventPaymentCompleted && event != EventPaymentFailed {
		return
	}
	data, ok := f.encodePayload(event, map[string]any{"payment": newPaymentView(p)}, 0)
	if !ok {
		return
	}
	if err := f.hub.PublishRaw(PurchaseChannel(p.ID), event, string(data), ""); err != nil {
		f.log.Error("fan-out: publish", "channel", PurchaseChannel(p.ID), "event", event, "err", err)
	}
}

// PurchaseTokens checks the captive portal's purchase tokens;
// *portal.Tokens implements it.
type PurchaseTokens interface {
	// VerifyPurchaseToken returns the tenant and payment a token was
	// issued for; EUNAUTHORIZED for a bad or expired token.
	VerifyPurchaseToken(token string) (tenant, payment int64, err error)
}

// PurchaseChannelAuth authorizes the captive portal's subscriptions
// (POST /portal/auth, the token as the bearer): a valid token lets its
// holder join its own purchase's channel and nothing else.
func PurchaseChannelAuth(t PurchaseTokens) pusher.Authenticator { return purchaseAuth{t} }

type purchaseAuth struct{ t PurchaseTokens }

func (a purchaseAuth) Authenticate(_ context.Context, bearer string) (pusher.User, error) {
	_, payment, err := a.t.VerifyPurchaseToken(bearer)
	if err != nil {
		return nil, controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid portal token")
	}
	return purchaseUser{channel: PurchaseChannel(payment)}, nil
}

// purchaseUser is a portal page holding one purchase's token.
type purchaseUser struct{ channel string }

func (u purchaseUser) CanSubscribe(channel string) bool { return channel == u.channel }

func (u purchaseUser) PresenceMember() pusher.Member { return pusher.Member{UserID: "portal"} }

// scrubbed is payload as a generic object with every secret-looking key
// scrubbed and contacts masked; false (logged) when it is not an object.
func (f *Fanout) scrubbed(event string, payload any) (map[string]any, bool) {
	b, err := json.Marshal(payload)
	if err != nil {
		f.log.Error("fan-out: marshal", "event", event, "err", err)
		return nil, false
	}
	// Numbers stay json.Number on the way through the scrub: amounts are
	// int64 minor units and must not pass through a float64.
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil || generic == nil {
		f.log.Error("fan-out: payload is not an object", "event", event, "err", err)
		return nil, false
	}
	scrubValue(generic)
	return generic, true
}
