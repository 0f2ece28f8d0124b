#!/usr/bin/env python3
# noise_vectors.py [SUITES_HEX] - docs/protocol.md §10.4 rebuilt from the
# page alone: an independent Noise_XX_25519_ChaChaPoly_SHA256 (the
# `cryptography` package, no libsodium) run with the fixed secrets, printing
# records 1-3, h and the keys. SUITES_HEX is the client's offer ("0201" for
# [2, 1], the default; "01" for [1]). tests/integration/outsider.sh compares
# the output with the page.
import hashlib, hmac, struct, sys
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization
raw = serialization.Encoding.Raw
def pub(sk): return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(raw, serialization.PublicFormat.Raw)
def dh(sk, pk): return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))
H = lambda d: hashlib.sha256(d).digest()
HM = lambda k, d: hmac.new(k, d, hashlib.sha256).digest()
def hkdf(ck, ikm):
    t = HM(ck, ikm); o1 = HM(t, b"\x01"); o2 = HM(t, o1 + b"\x02"); return o1, o2
class SS:
    def __init__(s, prologue):
        s.h = b"Noise_XX_25519_ChaChaPoly_SHA256"; s.ck = s.h; s.k = None; s.n = 0
        s.mix_hash(prologue)
    def mix_hash(s, d): s.h = H(s.h + d)
    def mix_key(s, ikm): s.ck, s.k = hkdf(s.ck, ikm); s.n = 0
    def enc(s, p):
        if s.k is None: c = p
        else: c = ChaCha20Poly1305(s.k).encrypt(bytes(4) + struct.pack("<Q", s.n), p, s.h); s.n += 1
        s.mix_hash(c); return c
    def dec(s, c):
        if s.k is None: p = c
        else: p = ChaCha20Poly1305(s.k).decrypt(bytes(4) + struct.pack("<Q", s.n), c, s.h); s.n += 1
        s.mix_hash(c); return p
def fb(n, b): return bytes([n << 3 | 2]) + varint(len(b)) + b
def fv(n, v): return (bytes([n << 3]) + varint(v)) if v else b""
def varint(v):
    out = b""
    while True:
        b = v & 0x7f; v >>= 7
        if v: out += bytes([b | 0x80])
        else: return out + bytes([b])
def fields(buf):  # minimal protobuf reader: {field: value}
    i, out = 0, {}
    while i < len(buf):
        key = 0; sh = 0
        while True:
            b = buf[i]; i += 1; key |= (b & 0x7f) << sh; sh += 7
            if not b & 0x80: break
        f, wt = key >> 3, key & 7
        v = 0; sh = 0
        while True:
            b = buf[i]; i += 1; v |= (b & 0x7f) << sh; sh += 7
            if not b & 0x80: break
        if wt == 2: out[f] = buf[i:i + v]; i += v
        else: out[f] = v
    return out
rec = lambda body: struct.pack(">I", len(body)) + body
fill = lambda s: bytes(range(s, s + 32))
c_s, c_e, s_s, s_e = fill(0x20), fill(0x40), fill(0x60), fill(0x80)
suites = bytes.fromhex(sys.argv[1]) if len(sys.argv) > 1 else b"\x02\x01"
soft = b"pbrpc/0.1.0"
# client: record 1
ci = SS(b"pbrpc handshake v2")
params1 = fb(2, suites) + fv(4, 4194304) + fb(5, soft)
ci.mix_hash(pub(c_e)); m1 = pub(c_e) + ci.enc(params1)
r1 = rec(fv(1, 2) + fb(6, m1))
print("record1", r1.hex())
# server: reads record 1, writes record 2
si = SS(b"pbrpc handshake v2")
o = fields(r1[4:]); m = o[6]; re = m[:32]; si.mix_hash(re); p1 = si.dec(m[32:])
suite = fields(p1)[2][0]
si.mix_hash(pub(s_e)); si.mix_key(dh(s_e, re)); cs = si.enc(pub(s_s)); si.mix_key(dh(s_s, re))
params2 = fv(2, suite) + fv(4, 4194304) + fb(5, soft)
m2 = pub(s_e) + cs + si.enc(params2)
r2 = rec(fv(1, 2) + fb(7, m2))
print("record2", r2.hex())
# client: reads record 2, writes record 3
m = fields(r2[4:])[7]; ci.mix_hash(m[:32]); ci.mix_key(dh(c_e, m[:32]))
rs = ci.dec(m[32:80]); assert rs == pub(s_s); ci.mix_key(dh(c_e, rs)); p2 = ci.dec(m[80:])
m3 = ci.enc(pub(c_s)); ci.mix_key(dh(c_s, m[:32])); m3 += ci.enc(b"")
r3 = rec(fb(2, m3))
print("record3", r3.hex())
# server: reads record 3
m = fields(r3[4:])[2]; rcs = si.dec(m[:48]); assert rcs == pub(c_s); si.mix_key(dh(s_e, rcs)); si.dec(m[48:])
assert si.h == ci.h and si.ck == ci.ck
k1, k2 = hkdf(ci.ck, b"")
print("h", ci.h.hex()); print("key_c2s", k1.hex()); print("key_s2c", k2.hex())
