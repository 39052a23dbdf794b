package pusher

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The vectors come from the Pusher protocol reference in shared/ref.
func TestSignChannelVector(t *testing.T) {
	const want = "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
	if got := SignChannel("278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar", ""); got != want {
		t.Fatalf("SignChannel = %s, want %s", got, want)
	}
	if !VerifyChannelAuth("278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234", "private-foobar", "", want) {
		t.Fatal("VerifyChannelAuth rejects the reference vector")
	}
}

func TestVerifyChannelAuth(t *testing.T) {
	const cd = `{"user_id":"1","user_info":{}}`
	good := SignChannel("key", "secret", "1.2", "presence-a", cd)
	tests := []struct {
		name                             string
		socket, channel, channelData, au string
		want                             bool
	}{
		{"good", "1.2", "presence-a", cd, good, true},
		{"channel data changed", "1.2", "presence-a", `{"user_id":"2","user_info":{}}`, good, false},
		{"channel data reformatted", "1.2", "presence-a", `{"user_id": "1","user_info":{}}`, good, false},
		{"other socket", "1.3", "presence-a", cd, good, false},
		{"other channel", "1.2", "presence-b", cd, good, false},
		{"truncated", "1.2", "presence-a", cd, good[:len(good)-2], false},
		{"upper-case hex", "1.2", "presence-a", cd, "key:" + strings.ToUpper(good[4:]), true},
		{"wrong key", "1.2", "presence-a", cd, "kez" + good[3:], false},
		{"empty", "1.2", "presence-a", cd, "", false},
	}
	for _, tt := range tests {
		if got := VerifyChannelAuth("key", "secret", tt.socket, tt.channel, tt.channelData, tt.au); got != tt.want {
			t.Errorf("%s: VerifyChannelAuth = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEncryptedChannelSecretIsPerChannel(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	a, b := EncryptedChannelSecret("private-encrypted-a", key), EncryptedChannelSecret("private-encrypted-b", key)
	if a == b || len(a) != 44 {
		t.Fatalf("secrets %q and %q: want distinct base64 of 32 bytes", a, b)
	}
}

const (
	vectorBody = `{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`
	vectorMD5  = "ec365a775a4cd0599faeb73354201b6f"
	vectorSig  = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
	vectorTS   = 1353088179
)

func vectorQuery() url.Values {
	return url.Values{
		"auth_key":       {"278d425bdf160c739803"},
		"auth_timestamp": {strconv.Itoa(vectorTS)},
		"auth_version":   {"1.0"},
		"body_md5":       {vectorMD5},
	}
}

func TestSignRequestVector(t *testing.T) {
	if got := BodyMD5([]byte(vectorBody)); got != vectorMD5 {
		t.Fatalf("BodyMD5 = %s, want %s", got, vectorMD5)
	}
	got, err := SignRequest("7ad3773142a6692b25b8", "POST", "/apps/3/events", vectorQuery())
	if err != nil || got != vectorSig {
		t.Fatalf("SignRequest = %s, %v; want %s", got, err, vectorSig)
	}
}

func TestVerifyRequest(t *testing.T) {
	at := time.Unix(vectorTS, 0)
	v := RequestVerifier{Key: "278d425bdf160c739803", Secret: "7ad3773142a6692b25b8", Now: func() time.Time { return at }}
	signed := func(mutate func(url.Values)) string {
		q := vectorQuery()
		q.Set("auth_signature", vectorSig)
		if mutate != nil {
			mutate(q)
		}
		return q.Encode()
	}
	tests := []struct {
		name     string
		method   string
		path     string
		query    string
		body     string
		now      time.Time
		wantErr  bool
		wantText string
	}{
		{name: "reference vector", query: signed(nil)},
		{name: "lower-case method", method: "post", query: signed(nil)},
		{name: "599 s later", query: signed(nil), now: at.Add(599 * time.Second)},
		{name: "601 s later", query: signed(nil), now: at.Add(601 * time.Second), wantErr: true, wantText: "auth_timestamp"},
		{name: "601 s earlier", query: signed(nil), now: at.Add(-601 * time.Second), wantErr: true, wantText: "auth_timestamp"},
		{name: "body changed", query: signed(nil), body: vectorBody + " ", wantErr: true, wantText: "body_md5"},
		{name: "body_md5 missing", query: signed(func(q url.Values) { q.Del("body_md5") }), wantErr: true, wantText: "body_md5"},
		{name: "signature wrong", query: signed(func(q url.Values) { q.Set("auth_signature", strings.Repeat("0", 64)) }), wantErr: true, wantText: "auth_signature"},
		{name: "signature missing", query: signed(func(q url.Values) { q.Del("auth_signature") }), wantErr: true, wantText: "auth_signature"},
		{name: "extra param not signed", query: signed(func(q url.Values) { q.Set("info", "x") }), wantErr: true, wantText: "does not match"},
		{name: "duplicate param", query: signed(nil) + "&info=a&INFO=b", wantErr: true, wantText: "more than once"},
		{name: "wrong key", query: signed(func(q url.Values) { q.Set("auth_key", "x") }), wantErr: true, wantText: "auth_key"},
		{name: "wrong version", query: signed(func(q url.Values) { q.Set("auth_version", "2.0") }), wantErr: true, wantText: "auth_version"},
		{name: "bad timestamp", query: signed(func(q url.Values) { q.Set("auth_timestamp", "soon") }), wantErr: true, wantText: "auth_timestamp"},
		{name: "huge timestamp", query: signed(func(q url.Values) { q.Set("auth_timestamp", "9223372036854775807") }), wantErr: true, wantText: "auth_timestamp"},
		{name: "other path", path: "/apps/4/events", query: signed(nil), wantErr: true, wantText: "does not match"},
		{name: "other method", method: "GET", query: signed(nil), wantErr: true, wantText: "does not match"},
		{name: "malformed query", query: "%zz", wantErr: true, wantText: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vv := v
			if !tt.now.IsZero() {
				vv.Now = func() time.Time { return tt.now }
			}
			method, path, body := tt.method, tt.path, tt.body
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/apps/3/events"
			}
			if body == "" {
				body = vectorBody
			}
			err := vv.Verify(method, path, tt.query, []byte(body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), tt.wantText)) {
				t.Errorf("error %q: want ErrBadSignature mentioning %q", err, tt.wantText)
			}
		})
	}
}

// FuzzVerifyRequest checks that the HTTP API signature verifier never panics
// on hostile input, and that a request signed with the secret always passes.
func FuzzVerifyRequest(f *testing.F) {
	q := vectorQuery()
	q.Set("auth_signature", vectorSig)
	f.Add("POST", "/apps/3/events", q.Encode(), []byte(vectorBody), "")
	f.Add("GET", "/apps/3/channels", "auth_key=k&auth_signature=zz", []byte(nil), "filter_by_prefix=presence-")
	f.Add("GET", "/", "%", []byte("x"), "a=%00&a=1")
	at := time.Unix(vectorTS, 0)
	v := RequestVerifier{Key: "278d425bdf160c739803", Secret: "7ad3773142a6692b25b8", Now: func() time.Time { return at }}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte, extra string) {
		_ = v.Verify(method, path, rawQuery, body)

		// Round trip: sign extra params + body ourselves; must verify.
		params, err := url.ParseQuery(extra)
		if err != nil {
			return
		}
		for k := range params {
			switch strings.ToLower(k) {
			case paramAuthKey, paramAuthTimestamp, paramAuthVersion, paramAuthSignature, paramBodyMD5:
				params.Del(k)
			}
		}
		params.Set(paramAuthKey, v.Key)
		params.Set(paramAuthTimestamp, strconv.Itoa(vectorTS))
		params.Set(paramAuthVersion, "1.0")
		if len(body) > 0 {
			params.Set(paramBodyMD5, BodyMD5(body))
		}
		sig, err := SignRequest(v.Secret, method, path, params)
		if err != nil {
			return // duplicate keys: unsignable by design
		}
		params.Set(paramAuthSignature, sig)
		if err := v.Verify(method, path, params.Encode(), body); err != nil {
			t.Fatalf("self-signed request rejected: %v (query %q)", err, params.Encode())
		}
	})
}
