#!/usr/bin/env python3
"""An outside pbrpc client, written from docs/protocol.md alone (§2 records,
§3.1-3.2 the version 2 handshake, §4 sealed records, §5 frames, §10.1, §11.1
key files): Python's hashlib/hmac and the `cryptography` package, no
libsodium, none of pbrpc's C.

    pbrpc_client.py ADDRESS IDENTITY HOST_KEY.pub TEXT
prints the echo of TEXT and exits 0; on any refusal prints it and exits 1."""
import base64, hashlib, hmac, socket, struct, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw

def pub(sk): return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(*RAW)
def dh(sk, pk):
    out = X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))
    if out == bytes(32): raise SystemExit("low-order key")
    return out
def hmac256(k, d): return hmac.new(k, d, hashlib.sha256).digest()
def hkdf(ck, ikm):                       # Noise §4.3, two outputs
    t = hmac256(ck, ikm); o1 = hmac256(t, b"\x01"); return o1, hmac256(t, o1 + b"\x02")

class Symmetric:                         # Noise's SymmetricState
    def __init__(self, prologue):
        self.h = b"Noise_XX_25519_ChaChaPoly_SHA256"; self.ck = self.h; self.k = None; self.n = 0
        self.mix_hash(prologue)
    def mix_hash(self, d): self.h = hashlib.sha256(self.h + d).digest()
    def mix_key(self, ikm): self.ck, self.k = hkdf(self.ck, ikm); self.n = 0
    def _nonce(self): return bytes(4) + struct.pack("<Q", self.n)
    def enc(self, p):
        c = p if self.k is None else ChaCha20Poly1305(self.k).encrypt(self._nonce(), p, self.h)
        if self.k is not None: self.n += 1
        self.mix_hash(c); return c
    def dec(self, c):
        p = c if self.k is None else ChaCha20Poly1305(self.k).decrypt(self._nonce(), c, self.h)
        if self.k is not None: self.n += 1
        self.mix_hash(c); return p

def varint(v):
    out = b""
    while True:
        b = v & 0x7f; v >>= 7
        if not v: return out + bytes([b])
        out += bytes([b | 0x80])
def fv(n, v): return bytes([n << 3]) + varint(v) if v else b""
def fb(n, b): return bytes([n << 3 | 2]) + varint(len(b)) + b if b else b""
def fields(buf):
    i, out = 0, {}
    def rd():
        nonlocal i
        v = s = 0
        while True:
            b = buf[i]; i += 1; v |= (b & 0x7f) << s; s += 7
            if not b & 0x80: return v
    while i < len(buf):
        key = rd(); f, wt = key >> 3, key & 7
        if wt == 0: out[f] = rd()
        elif wt == 2: n = rd(); out[f] = buf[i:i + n]; i += n
        else: raise SystemExit("unexpected wire type")
    return out

def recv_record(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c: raise SystemExit("connection closed")
            b += c
        return b
    hdr = exact(4); return hdr, exact(struct.unpack(">I", hdr)[0])
def record(body): return struct.pack(">I", len(body)) + body

class Channel:                           # §4: counter nonces, the header as AD
    def __init__(self, suite, tx, rx):
        A = AESGCM if suite == 2 else ChaCha20Poly1305
        self.tx, self.rx, self.ntx, self.nrx = A(tx), A(rx), 0, 0
    def seal(self, plain):
        hdr = struct.pack(">I", len(plain) + 16)
        c = self.tx.encrypt(bytes(4) + struct.pack(">Q", self.ntx), plain, hdr); self.ntx += 1
        return hdr + c
    def open(self, hdr, body):
        p = self.rx.decrypt(bytes(4) + struct.pack(">Q", self.nrx), body, hdr); self.nrx += 1
        return p

def main():
    addr, ident, hostpub, text = sys.argv[1:5]
    words = open(ident).read().split()
    assert words[0] == "x25519-secret"
    s_sk = base64.b64decode(words[1])
    w = open(hostpub).read().split()
    assert w[0] == "x25519"
    pinned = base64.b64decode(w[1])
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    e_sk = X25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ss = Symmetric(b"pbrpc handshake v2")
    # record 1: -> e, payload1 = ClientHello{suites [2, 1], max_record, software}
    payload1 = fb(2, b"\x02\x01") + fv(4, 1 << 20) + fb(5, b"outsider.py")
    ss.mix_hash(pub(e_sk)); msg1 = pub(e_sk) + ss.enc(payload1)
    sock.sendall(record(fv(1, 2) + fb(6, msg1)))
    # record 2: <- e, ee, s, es, payload2
    _, body = recv_record(sock)
    sh = fields(body)
    if 6 in sh: print("refused:", sh[6].decode()); return 1
    m = sh[7]; re = m[:32]
    ss.mix_hash(re); ss.mix_key(dh(e_sk, re))
    rs = ss.dec(m[32:80]); ss.mix_key(dh(e_sk, rs))
    params = fields(ss.dec(m[80:]))
    if rs != pinned: print("server key changed"); return 1
    suite, peer_max = params.get(2, 0), params.get(4, 0) or 4194304
    # record 3: -> s, se
    msg3 = ss.enc(pub(s_sk)); ss.mix_key(dh(s_sk, re)); msg3 += ss.enc(b"")
    sock.sendall(record(fb(2, msg3)))
    k_c2s, k_s2c = hkdf(ss.ck, b"")
    ch = Channel(suite, k_c2s, k_s2c)
    # the verdict: Frame{call_id 0, STATUS}
    verdict = fields(ch.open(*recv_record(sock)))
    if verdict.get(1, 0) != 0 or verdict.get(2) != 5: print("no verdict"); return 1
    if verdict.get(7, 0): print("refused:", verdict.get(8, b"").decode()); return 1
    # one unary call (§10.1): REQUEST, HAS_MESSAGE|HALF_CLOSE, pbrpc.echo.Echo.Say
    req = fv(1, 1) + fv(2, 1) + fv(3, 3) + fb(4, b"pbrpc.echo.Echo.Say") + fb(6, fb(1, text.encode()))
    assert len(req) + 16 <= peer_max
    sock.sendall(ch.seal(req))
    reply = fields(ch.open(*recv_record(sock)))
    if reply.get(2) != 5 or reply.get(7, 0): print("call failed:", reply.get(8, b"").decode()); return 1
    print(fields(reply.get(6, b"")).get(1, b"").decode())
    return 0

if __name__ == "__main__":
    sys.exit(main())
