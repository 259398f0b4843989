#!/usr/bin/env python3
"""Drives headless Chromium through ChromeDriver's W3C WebDriver protocol
(plain HTTP and JSON, the standard library only) for tests/net/node_map.sh:

  map_check.py DRIVER_URL PAGE_URL wait NODES_UP LINKS TIMEOUT
      loads the page, waits until it shows NODES_UP nodes up and LINKS
      links, and prints the drawing as JSON: {"nodes": [...], "links": [...]}
  map_check.py DRIVER_URL PAGE_URL click JID TIMEOUT PNG
      loads the page, clicks the node of JID, waits for its details and
      prints them as JSON, then saves a screenshot of the page to PNG

Exit status 0 when the condition held, 1 on timeout (the last state is
printed), 2 when the browser could not be driven."""
import base64
import json
import sys
import time
import urllib.error
import urllib.request

CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--window-size=1280,860"]


class Driver:
    def __init__(self, url, profile):
        self.url = url.rstrip("/")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium", "args": CHROME_ARGS + ["--user-data-dir=" + profile]}}}}
        r = self.call("POST", "/session", caps)
        self.sid = r["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as f:
            return json.load(f)["value"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/" + self.sid + path, body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def on_element(self, css, path, body, tries=10):
        """POSTs body to /element/ID + path for the element css selects: the
        page redraws its SVG on every refresh, so a reference may go stale
        between finding and using it; find it again then."""
        for i in range(tries):
            try:
                el = self.s("POST", "/element", {"using": "css selector", "value": css})
                eid = list(el.values())[0]
                return self.s("POST", "/element/%s%s" % (eid, path), body) if path else eid
            except urllib.error.HTTPError:
                if i == tries - 1:
                    raise
                time.sleep(0.2)

    def quit(self):
        try:
            self.call("DELETE", "/session/" + self.sid)
        except Exception:
            pass


DRAWING = """
const nodes = [...document.querySelectorAll('g.node')].map(g => ({
  id: g.dataset.nodeId, jid: g.dataset.jid, addr: g.dataset.addr, up: g.dataset.up === '1'}));
const links = [...document.querySelectorAll('line.link')].map(l => ({
  a: l.dataset.a, b: l.dataset.b, path: l.dataset.path, state: l.dataset.state,
  rtt_ms: l.dataset.rttMs, title: (l.querySelector('title') || {}).textContent || ''}));
return {generation: Number(document.body.dataset.generation || 0), status: document.getElementById('status').textContent,
        nodes, links};
"""


def wait_drawing(d, nodes_up, links, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = d.js(DRAWING)
        up = sum(1 for n in last["nodes"] if n["up"])
        if last["generation"] >= 1 and up == nodes_up and len(last["links"]) == links:
            return True, last
        time.sleep(0.5)
    return False, last


def main():
    driver_url, page, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        d = Driver(driver_url, "/tmp/map-check-profile-%d" % int(time.time() * 1000))
        d.s("POST", "/url", {"url": page})
    except Exception as e:
        print("cannot drive chromium: %s" % e)
        return 2
    try:
        if cmd == "wait":
            ok, last = wait_drawing(d, int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
            print(json.dumps(last))
            return 0 if ok else 1
        jid, timeout, png = sys.argv[4], float(sys.argv[5]), sys.argv[6]
        end = time.time() + timeout
        while time.time() < end and not d.js("return document.querySelector('g.node[data-jid=\"%s\"]') !== null" % jid):
            time.sleep(0.5)
        d.on_element('g.node[data-jid="%s"] circle' % jid, "/click", {})
        got = None
        while time.time() < end:
            got = d.js("""const d = document.getElementById('details');
                return {node_id: d.dataset.nodeId || '', title: (d.querySelector('h2') || {}).textContent || '',
                        rows: [...d.querySelectorAll('#node-table tr')].map(r => [...r.cells].map(c => c.textContent)),
                        peers: [...d.querySelectorAll('#peer-table tr')].map(r => [...r.cells].map(c => c.textContent)),
                        selected: [...document.querySelectorAll('g.node.selected')].map(g => g.dataset.jid)};""")
            if got["title"].startswith(jid) and got["peers"]:
                break
            time.sleep(0.5)
        # hover a link: the tooltip box the page shows
        for _ in range(10):
            try:
                line = d.on_element("line.link", None, None)
                d.s("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                                                       "actions": [{"type": "pointerMove", "x": 0, "y": 0,
                                                                    "origin": {"element-6066-11e4-a52e-4f735466cecf": line}}]}]})
            except urllib.error.HTTPError:
                continue
            time.sleep(0.3)
            got["tooltip"] = d.js("const t = document.getElementById('tip'); return t.style.display === 'block' ? t.textContent : '';")
            if got["tooltip"]:
                break
        # move away so the tooltip does not hide the map in the screenshot
        d.s("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                                               "actions": [{"type": "pointerMove", "x": 5, "y": 5}]}]})
        time.sleep(0.3)
        shot = d.s("GET", "/screenshot")
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot))
        print(json.dumps(got))
        return 0 if got and got["title"].startswith(jid) and got["peers"] and got["tooltip"] else 1
    finally:
        d.quit()


if __name__ == "__main__":
    sys.exit(main())
