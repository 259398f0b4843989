#!/usr/bin/env python3
"""A minimal XMPP c2s server for one lab case Prosody and ejabberd cannot
produce: a stream error after which the server keeps the TCP connection
open (no </stream:stream>, no close). Plaintext, SASL PLAIN accepting any
password, resource binding; it answers iq gets (roster, ping, disco) with
empty results.

  xmpp_fake_server.py IP PORT DOMAIN [ERROR_AFTER_S]

The first session gets <stream:error><undefined-condition/> ERROR_AFTER_S
(default 0.5) after the client's initial presence; from then on the server
reads and ignores what comes, and only the client may close. Later
sessions are served normally. Events go to stdout, one a line, with
CLOCK_REALTIME times: "login N", "stream-error N", "client-stream-end N",
"client-closed N".
"""
import base64
import socket
import sys
import threading
import time
import xml.parsers.expat
from xml.sax.saxutils import escape, quoteattr

NS_STREAMS = "http://etherx.jabber.org/streams"
SEP = "|"


def event(what, n):
    print("%.3f %s %d" % (time.time(), what, n), flush=True)


class Session:
    def __init__(self, sock, n, domain, error_after):
        self.sock, self.n, self.domain = sock, n, domain
        self.error_after = error_after if n == 1 else None
        self.authed = False
        self.errored = False
        self.depth = 0
        self.stanza = None  # [name, attrs, children, text]
        self.restart = False
        self.user = "node"
        self.new_parser()

    def new_parser(self):
        p = xml.parsers.expat.ParserCreate(namespace_separator=SEP)
        p.StartElementHandler = self.start
        p.EndElementHandler = self.end
        p.CharacterDataHandler = self.chars
        self.parser = p

    def send(self, s):
        if not self.errored:
            self.sock.sendall(s.encode())

    def start(self, name, attrs):
        self.depth += 1
        if self.depth == 1:
            self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      "xmlns:stream='%s' id='s%d' from=%s version='1.0'>"
                      % (NS_STREAMS, self.n, quoteattr(self.domain)))
            if self.authed:
                self.send("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                          "</stream:features>")
            else:
                self.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                          "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
        elif self.depth == 2:
            self.stanza = [name.split(SEP)[-1], attrs, [], ""]
        elif self.stanza is not None:
            self.stanza[2].append(name.split(SEP)[-1])

    def chars(self, data):
        if self.stanza is not None and self.depth >= 3:
            self.stanza[3] += data

    def end(self, name):
        self.depth -= 1
        if self.depth == 0:
            event("client-stream-end", self.n)
        elif self.depth == 1 and self.stanza is not None:
            st, self.stanza = self.stanza, None
            self.handle(*st)

    def handle(self, name, attrs, children, text):
        if self.errored:
            return
        if name == "auth":
            self.authed = True
            try:  # PLAIN: authzid NUL authcid NUL password
                self.user = base64.b64decode(text).split(b"\0")[1].decode()
            except (ValueError, IndexError, UnicodeDecodeError):
                self.user = "node"
            self.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            self.restart = True
        elif name == "iq" and "bind" in children:
            res = text.strip() or "r"
            self.send("<iq type='result' id=%s><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                      "<jid>%s</jid></bind></iq>" % (quoteattr(attrs.get("id", "")),
                                                     escape("%s@%s/%s" % (self.user, self.domain, res))))
            event("login", self.n)
        elif name == "iq" and attrs.get("type") in ("get", "set"):
            self.send("<iq type='result' id=%s/>" % quoteattr(attrs.get("id", "")))
        elif name == "presence" and self.error_after is not None and not attrs.get("type"):
            threading.Timer(self.error_after, self.stream_error).start()
            self.error_after = None

    def stream_error(self):
        self.send("<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                  "</stream:error>")
        self.errored = True
        event("stream-error", self.n)

    def run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                event("client-closed", self.n)
                self.sock.close()
                return
            self.restart = False
            try:
                self.parser.Parse(data, False)
            except xml.parsers.expat.ExpatError as e:
                print("parse error %s in session %d" % (e, self.n), flush=True)
            if self.restart:  # SASL success: the client opens a new stream
                self.depth = 0
                self.new_parser()


def main():
    ip, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    after = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(8)
    n = 0
    while True:
        c, _ = ls.accept()
        n += 1
        threading.Thread(target=Session(c, n, domain, after).run, daemon=True).start()


if __name__ == "__main__":
    main()
