/* MD5 for the hotspot login page: hexMD5(s) hashes the low byte of each
   character of s, so '\344' + password + '\123...' (RouterOS's octal
   escaped chap-id and chap-challenge) hash as raw bytes. */
function hexMD5(s) {
  function add(x, y) { var l = (x & 0xFFFF) + (y & 0xFFFF); return (((x >> 16) + (y >> 16) + (l >> 16)) << 16) | (l & 0xFFFF); }
  function rol(n, c) { return (n << c) | (n >>> (32 - c)); }
  function cmn(q, a, b, x, s, t) { return add(rol(add(add(a, q), add(x, t)), s), b); }
  function ff(a, b, c, d, x, s, t) { return cmn((b & c) | (~b & d), a, b, x, s, t); }
  function gg(a, b, c, d, x, s, t) { return cmn((b & d) | (c & ~d), a, b, x, s, t); }
  function hh(a, b, c, d, x, s, t) { return cmn(b ^ c ^ d, a, b, x, s, t); }
  function ii(a, b, c, d, x, s, t) { return cmn(c ^ (b | ~d), a, b, x, s, t); }
  var n = s.length, nblk = ((n + 8) >> 6) + 1, x = [], i;
  for (i = 0; i < nblk * 16; i++) x[i] = 0;
  for (i = 0; i < n; i++) x[i >> 2] |= (s.charCodeAt(i) & 0xFF) << ((i % 4) * 8);
  x[n >> 2] |= 0x80 << ((n % 4) * 8);
  x[nblk * 16 - 2] = n * 8;
  var a = 1732584193, b = -271733879, c = -1732584194, d = 271733878;
  var S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21], T = [], k;
  for (k = 0; k < 64; k++) T[k] = Math.floor(Math.abs(Math.sin(k + 1)) * 4294967296) | 0;
  for (i = 0; i < x.length; i += 16) {
    var oa = a, ob = b, oc = c, od = d, f, g, t;
    for (k = 0; k < 64; k++) {
      var r = k >> 4, fn = [ff, gg, hh, ii][r];
      g = r == 0 ? k : r == 1 ? (5 * k + 1) % 16 : r == 2 ? (3 * k + 5) % 16 : (7 * k) % 16;
      t = fn(a, b, c, d, x[i + g], S[r * 4 + k % 4], T[k]);
      a = d; d = c; c = b; b = t;
    }
    a = add(a, oa); b = add(b, ob); c = add(c, oc); d = add(d, od);
  }
  var hex = "0123456789abcdef", out = "", w = [a, b, c, d];
  for (i = 0; i < 16; i++) { var v = w[i >> 2] >> ((i % 4) * 8); out += hex.charAt((v >> 4) & 15) + hex.charAt(v & 15); }
  return out;
}
if (typeof module !== "undefined") module.exports = hexMD5;
