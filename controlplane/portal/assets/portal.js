// SitePulse captive portal: pay with M-Pesa (live on the purchase's own
// channel, no polling), and log in on the router like RouterOS's
// login.html (CHAP when the hotspot offers it).
(function () {
  'use strict';
  var C = JSON.parse(document.getElementById('cfg').textContent);
  function $(id) { return document.getElementById(id); }

  // RouterOS writes chap-id and chap-challenge octal-escaped (\123).
  function unoctal(s) {
    return (s || '').replace(/\\([0-7]{1,3})/g, function (_, o) { return String.fromCharCode(parseInt(o, 8) & 255); });
  }

  // md5hex is MD5 of s, whose characters are bytes (0..255), in hex.
  var K = [], R = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  for (var k = 0; k < 64; k++) K[k] = Math.floor(Math.abs(Math.sin(k + 1)) * 4294967296) | 0;
  function md5hex(s) {
    var n = s.length, blocks = ((n + 8) >> 6) + 1, w = [], i, j;
    for (i = 0; i < blocks * 16; i++) w[i] = 0;
    for (i = 0; i < n; i++) w[i >> 2] |= (s.charCodeAt(i) & 255) << ((i % 4) * 8);
    w[n >> 2] |= 0x80 << ((n % 4) * 8);
    w[blocks * 16 - 2] = n * 8;
    var h = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];
    for (j = 0; j < w.length; j += 16) {
      var a = h[0], b = h[1], c = h[2], d = h[3];
      for (i = 0; i < 64; i++) {
        var f, g, r = i >> 4;
        if (r === 0) { f = (b & c) | (~b & d); g = i; }
        else if (r === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
        else if (r === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (b | ~d); g = (7 * i) % 16; }
        var x = (a + f + K[i] + w[j + g]) | 0, sh = R[r * 4 + (i % 4)], t = d;
        d = c; c = b; b = (b + ((x << sh) | (x >>> (32 - sh)))) | 0; a = t;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    }
    var out = '';
    for (i = 0; i < 16; i++) out += ('0' + ((h[i >> 2] >>> ((i % 4) * 8)) & 255).toString(16)).slice(-2);
    return out;
  }
  function chap(id, pass, challenge) { return md5hex(unoctal(id) + pass + unoctal(challenge)); }
  window.spMD5 = md5hex; window.spCHAP = chap; // for the tests

  // login submits username and password to the hotspot's link-login-only,
  // the password CHAP-hashed when the hotspot sent a chap-id.
  function login(user, pass) {
    if (!C.login) { show('msg', 'Your login: ' + user + ' / ' + pass + ' (open this page from the WiFi to connect).', 'ok'); return; }
    var f = document.createElement('form'), pw = pass;
    f.method = 'post'; f.action = C.login; f.hidden = true;
    if (C.chapId) pw = chap(C.chapId, pass, C.chapChallenge);
    var fields = { username: user, password: pw, dst: C.orig || '', popup: 'true' };
    for (var name in fields) {
      var i = document.createElement('input'); i.type = 'hidden'; i.name = name; i.value = fields[name]; f.appendChild(i);
    }
    document.body.appendChild(f);
    f.submit();
  }

  function show(id, text, kind) {
    var el = $(id); if (!el) return;
    el.textContent = text; el.className = 'msg' + (kind ? ' ' + kind : ''); el.hidden = !text;
  }
  function json(r) { return r.json(); }

  // Existing credentials (and the voucher result's form): CHAP with JS.
  var lf = $('login');
  if (lf) lf.addEventListener('submit', function (e) {
    if (!C.login) return;
    e.preventDefault();
    login(lf.elements.username.value, lf.elements.password.value);
  });
  if (lf && lf.getAttribute('data-auto') === '1' && C.login) login(lf.elements.username.value, lf.elements.password.value);

  var bf = $('buy');
  if (!bf) return;
  var btn = $('paybtn');
  bf.addEventListener('submit', function (e) {
    e.preventDefault();
    var plan = bf.querySelector('input[name=plan_id]:checked');
    if (!plan) { show('paymsg', 'Pick a plan first.', 'err'); return; }
    btn.disabled = true; btn.textContent = 'Pay with M-Pesa';
    show('paymsg', 'Sending the payment request to your phone…');
    fetch(C.base + '/buy', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ plan_id: +plan.value, phone: bf.elements.phone.value, mac: C.mac, ip: C.ip })
    }).then(json).then(function (b) {
      if (b.error) { fail(b.error.message); return; }
      show('paymsg', 'Check your phone and enter your M-Pesa PIN.');
      listen(b);
      // One late look, in case the channel never got through (a blocked
      // WebSocket): M-Pesa gives the customer about a minute.
      setTimeout(function () { listen.check && listen.check(); }, 75000);
    }, function () { fail('No connection. Try again.'); });
  });

  function fail(text) {
    show('paymsg', text, 'err');
    btn.disabled = false; btn.textContent = 'Try again';
  }

  // listen waits for the purchase on its private channel with a small
  // Pusher-protocol client: connect, authorise with the portal token,
  // subscribe; on PaymentCompleted or PaymentFailed ask for the outcome.
  function listen(b) {
    var done = false, asking = false;
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/app/' +
      encodeURIComponent(C.key) + '?protocol=7&client=sitepulse-portal&version=1.0');
    function outcome() {
      if (done || asking) return;
      asking = true;
      fetch(C.base + '/purchase/' + b.payment_id + '?token=' + encodeURIComponent(b.token)).then(json).then(function (s) {
        asking = false;
        if (s.status === 'completed' && s.credentials) {
          done = true; ws.close();
          show('paymsg', 'Paid. Connecting you…', 'ok');
          login(s.credentials.username, s.credentials.password);
        } else if (s.status === 'failed' || s.status === 'flagged') {
          done = true; ws.close(); fail(s.reason);
        } else if (s.error) {
          done = true; ws.close(); fail(s.error.message);
        }
      }, function () { asking = false; });
    }
    listen.check = outcome;
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.event === 'pusher:connection_established') {
        var sid = JSON.parse(m.data).socket_id;
        fetch('/portal/auth', {
          method: 'POST', headers: { 'Authorization': 'Bearer ' + b.token, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'socket_id=' + encodeURIComponent(sid) + '&channel_name=' + encodeURIComponent(b.channel)
        }).then(json).then(function (a) {
          if (!a.auth) { done = true; ws.close(); fail((a.error && a.error.message) || 'This payment link has expired. Start again.'); return; }
          ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { auth: a.auth, channel: b.channel } }));
        }, function () { ws.close(); });
      } else if (m.event === 'pusher:ping') {
        ws.send(JSON.stringify({ event: 'pusher:pong', data: {} }));
      } else if (m.event === 'pusher_internal:subscription_succeeded') {
        outcome(); // it may have ended before the subscription
      } else if (m.channel === b.channel && (m.event === 'PaymentCompleted' || m.event === 'PaymentFailed')) {
        outcome();
      }
    };
    ws.onclose = function () { if (!done) setTimeout(function () { if (!done) listen(b); }, 2000); };
  }
})();
