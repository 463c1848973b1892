#!/usr/bin/env python3
"""Renders report.html in headless Chromium and checks what a reader would see.

Usage: check_report.py MOEPROBE RESULTS_JSON [--chromium PATH] [--screenshot-out FILE]
       check_report.py --time REPORT_HTML [--chromium PATH]

From RESULTS_JSON and its tables file (with its model path replaced by one holding <, &, and quotes) it renders
report.html with `moeprobe report`, loads it in Chromium and checks that
  - the page logs nothing to the console (report.html has no script: any message is an error),
  - every figure the results call for (the detail keys, as reports/report_figures.h lists them)
    is in the DOM, in its hypothesis and layer, and non-empty (drawn shapes, a decodable inline
    PNG, or a <use> of a drawn body), and no figure is there that the results do not call for,
  - each hypothesis's outcome badges (table and section) and the counts match results.json,
  - the model path reads back exactly, with no element made of it,
  - a screenshot is not blank.
--time: the load + layout time of a report (navigation start to the load event, layout forced),
in ms, measured by a copy of the page with a timing script.
Exits 77 (ctest SKIP_RETURN_CODE) with the reason when no Chromium is installed.
"""
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
import base64

SKIP = 77
TRICKY_PATH = 'out/<demo> & "model" \'x\''


def fail(msg):
    print("check_report: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def find_chromium(explicit):
    for c in ([explicit] if explicit else []) + ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(c) if c else None
        if path:
            return path
    print("check_report: SKIP: no Chromium on the PATH (install it with "
          "scripts/install-deps.sh --with-browser)")
    sys.exit(SKIP)


def chromium(browser, profile, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", "--user-data-dir=" + profile,
           "--enable-logging=stderr", "--v=0"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail("chromium exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    return p.stdout, p.stderr


# --- what results.json calls for (mirrors the table in reports/report_figures.h) ---------------

def is_matrix(m, square=False):
    if not isinstance(m, list) or not m or not all(isinstance(r, list) and r for r in m):
        return False
    if any(len(r) != len(m[0]) for r in m):
        return False
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for r in m for v in r):
        return False
    return not square or len(m) == len(m[0])


def read_safetensors(path):
    """{name: (dtype, shape, values as a flat list)} of a safetensors file (no numpy needed)."""
    import array
    with open(path, "rb") as fh:
        data = fh.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    codes = {"F32": "f", "F64": "d", "I32": "i", "I64": "q"}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in codes:
            fail("%s: tensor %r is %s, expected F32, F64, I32 or I64" % (path, name, t["dtype"]))
        begin, end = t["data_offsets"]
        values = array.array(codes[t["dtype"]])
        values.frombytes(data[8 + n + begin:8 + n + end])
        if sys.byteorder != "little":
            values.byteswap()
        out[name] = (t["dtype"], t["shape"], values.tolist())
    return out


def resolve_tables(results, results_path):
    """results.json schema 2 writes each detail table once in `tables` and refers to it as
    {"$table": KEY} (docs/reports.md); schema 3 keeps the numeric ones in the tables file beside
    it, a stub in `tables`. Puts the tables back in place (version 1 is inline)."""
    version = results.get("schema_version", 1)
    tables = results.get("tables", {}) if version >= 2 else {}
    stored = None

    def tensor(stub):
        nonlocal stored
        if stored is None:
            stored = read_safetensors(os.path.join(os.path.dirname(results_path),
                                                   results["tables_file"]))
        if stub["$tensor"] not in stored:
            fail("tensor %r is not in the tables file" % stub["$tensor"])
        dtype, shape, values = stored[stub["$tensor"]]
        if dtype != stub["dtype"] or shape != stub["shape"]:
            fail("tensor %r is %s %s, results.json says %s %s" % (
                stub["$tensor"], dtype, shape, stub["dtype"], stub["shape"]))
        return [None if v != v else v for v in values], shape  # NaN is null

    def table(t):
        if isinstance(t, list):
            return t
        if "$columns" in t:
            cols = {f: tensor(s)[0] for f, s in t["$columns"].items()}
            n = len(next(iter(cols.values())))
            return [{f: c[i] for f, c in cols.items()} for i in range(n)]
        values, (rows, width) = tensor(t)
        return [values[r * width:(r + 1) * width] for r in range(rows)]

    resolved = {}

    def walk(d):
        if not isinstance(d, dict):
            return
        for k, v in d.items():
            if isinstance(v, dict) and "$table" in v:
                key = v["$table"]
                if key not in tables:
                    fail("a detail refers to table %r, which is not in tables" % (key,))
                if key not in resolved:
                    resolved[key] = table(tables[key])
                d[k] = resolved[key]
            else:
                walk(v)

    for h in results["hypotheses"]:
        for l in h["per_layer"]:
            walk(l.get("detail"))
    return results


def expected_figures(detail):
    keys = []
    if not isinstance(detail, dict):
        return keys
    sim = detail.get("similarity")
    if isinstance(sim, dict):
        keys += ["heatmap:similarity." + k for k, m in sim.items() if is_matrix(m, True)]
    mn = detail.get("mean_neuron_similarity")
    if isinstance(mn, dict):
        keys += ["heatmap:mean_neuron_similarity." + k for k, m in mn.items() if is_matrix(m, True)]
        if is_matrix(detail.get("router_similarity"), True):
            keys += ["scatter:router_vs_mean_neuron." + k for k, m in mn.items()
                     if is_matrix(m, True)]
    if is_matrix(detail.get("pca_points")) and len(detail["pca_points"][0]) >= 2:
        keys.append("pca")
    pairs = detail.get("pairs")
    if isinstance(pairs, list) and any(isinstance(p, dict) and "tau" in p for p in pairs):
        keys.append("heatmap:pairs.tau")
    if is_matrix(detail.get("mean_output_similarity"), True):
        keys.append("heatmap:mean_output_similarity")
        if is_matrix(detail.get("weight_similarity"), True):
            keys.append("scatter:weight_vs_output")
    if is_matrix(detail.get("rank_count")):
        keys.append("heatmap:rank_count")
    if isinstance(detail.get("selection_counts"), list) and detail["selection_counts"]:
        keys.append("bars:selection_counts")
    if is_matrix(detail.get("routing_map")):
        keys.append("heatmap:routing_map")
    return keys


# --- the rendered DOM ----------------------------------------------------------------------

DRAWN = {"rect", "path", "circle", "line", "image", "text", "polyline"}


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # (tag, attrs)
        self.figures = []        # dicts: key, layer, hypothesis, drawn, uses, images
        self.groups = {}         # id -> drawn shapes inside
        self.group_stack = []
        self.section = None
        self.badges = []         # (hypothesis, where, outcome attr, text)
        self.badge = None
        self.text_of = {}        # element id -> text
        self.capture = None
        self.tags = set()
        self.ids = set()         # every element id
        self.url_refs = set()    # ids named by url(#...) in an attribute (the legends' gradients)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section" and "data-hypothesis" in a:
            self.section = a["data-hypothesis"]
        if tag == "tr" and "data-hypothesis" in a:
            self.row = a["data-hypothesis"]
        if tag == "figure":
            self.figures.append({"key": a.get("data-figure"), "layer": a.get("data-layer"),
                                 "hypothesis": self.section, "drawn": 0, "uses": [],
                                 "images": []})
        fig = self.figures[-1] if self.figures and self.in_tag("figure") else None
        if "id" in a:
            self.ids.add(a["id"])
        for v in a.values():
            for ref in re.findall(r"url\(#([^)]*)\)", v or ""):
                self.url_refs.add(ref)
        if tag == "g" and "id" in a:
            self.groups[a["id"]] = 0
            self.group_stack.append(a["id"])
        if tag in DRAWN:
            if fig is not None:
                fig["drawn"] += 1
            for g in self.group_stack:
                self.groups[g] += 1
        if tag == "image" and fig is not None:
            fig["images"].append(a.get("href", ""))
        if tag == "use" and fig is not None:
            fig["uses"].append(a.get("href", ""))
        if tag == "span" and a.get("class") == "badge":
            where = "section" if self.section else "table"
            self.badge = [self.section if self.section else getattr(self, "row", None), where,
                          a.get("data-outcome"), ""]
        if "id" in a and a["id"] in ("model-path", "counts"):
            self.capture = [a["id"], ""]
        if tag not in ("input", "meta", "br", "img", "link"):
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def in_tag(self, name):
        return any(t == name for t, _ in self.stack)

    def handle_endtag(self, tag):
        if tag == "g" and self.group_stack:
            self.group_stack.pop()
        if tag == "span" and self.badge is not None:
            self.badges.append(tuple(self.badge))
            self.badge = None
        if self.capture and tag in ("code", "p"):
            self.text_of[self.capture[0]] = self.capture[1]
            self.capture = None
        if any(t == tag for t, _ in self.stack):
            while self.stack:
                t, _ = self.stack.pop()
                if t == tag:
                    break
        if tag == "section":
            self.section = None

    def handle_data(self, data):
        if self.badge is not None:
            self.badge[3] += data
        if self.capture is not None:
            self.capture[1] += data


def png_pixels(data):
    """(width, height, channels, rows) of an 8-bit RGB/RGBA/palette PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, palette = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError("bad CRC in " + kind.decode())
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"PLTE":
            palette = body
        pos += 12 + n
    if depth != 8 or ctype not in (2, 3, 6):
        raise ValueError("unsupported PNG type %d/%d" % (depth, ctype))
    ch = {2: 3, 3: 1, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b, c = prev[i], (prev[i - ch] if i >= ch else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif f != 0:
            raise ValueError("bad PNG filter %d" % f)
        rows.append(bytes(line))
        prev = line
    return w, h, ch, rows, palette


def check_page(browser, profile, report, results, screenshot_out):
    dom_text, log = chromium(browser, profile, "--dump-dom", "file://" + report)
    console = [l for l in log.splitlines() if "CONSOLE" in l]
    if console:
        fail("the page logged to the console:\n" + "\n".join(console[:10]))
    dom = Dom()
    dom.feed(dom_text)
    style = "".join(re.findall(r"<style>(.*?)</style>", dom_text, re.S))
    if re.search(r"(^|[{},])\s*svg\s+[.#a-z]", style):
        fail("a descendant selector under svg: it does not reach shapes drawn again through <use>")

    # Figures: exactly those the results call for, each non-empty.
    want = {}
    for h in results["hypotheses"]:
        if any(isinstance(l.get("value"), (int, float)) for l in h["per_layer"]) or h["per_layer"]:
            want[(h["id"], None, "trend")] = 1
        for l in h["per_layer"]:
            for k in expected_figures(l.get("detail")):
                want[(h["id"], str(l["layer"]), k)] = 1
    have = {}
    for f in dom.figures:
        have[(f["hypothesis"], f["layer"], f["key"])] = f
    missing = sorted(set(want) - set(have), key=str)
    extra = sorted(set(have) - set(want), key=str)
    if missing:
        fail("%d figures missing, e.g. %s" % (len(missing), missing[:5]))
    if extra:
        fail("%d figures the results do not call for, e.g. %s" % (len(extra), extra[:5]))
    for key, f in have.items():
        drawn = f["drawn"] + sum(dom.groups.get(u.lstrip("#"), 0) for u in f["uses"])
        if any(u.lstrip("#") not in dom.groups for u in f["uses"]):
            fail("figure %s uses a body that is not in the page" % (key,))
        if drawn < 3:
            fail("figure %s is empty (%d shapes)" % (key, drawn))
        for href in f["images"]:
            if not href.startswith("data:image/png;base64,"):
                fail("figure %s has an image that is not an inline PNG" % (key,))
            w, h, _, _, _ = png_pixels(base64.b64decode(href.split(",", 1)[1]))
            if w < 2 or h < 2:
                fail("figure %s has a %dx%d image" % (key, w, h))

    unresolved = sorted(dom.url_refs - dom.ids)
    if unresolved:
        fail("url(#...) references to no element: %s" % unresolved[:5])

    # Outcome badges and counts.
    outcomes = {h["id"]: h["outcome"] for h in results["hypotheses"]}
    seen = {}
    for hyp, where, attr, text in dom.badges:
        if hyp not in outcomes:
            fail("a badge for an unknown hypothesis %r" % hyp)
        if attr != outcomes[hyp] or text.strip() != outcomes[hyp]:
            fail("%s badge of %s says %s/%s, results.json %s" % (where, hyp, attr, text,
                                                                 outcomes[hyp]))
        seen.setdefault(hyp, set()).add(where)
    for hyp in outcomes:
        if seen.get(hyp) != {"table", "section"}:
            fail("hypothesis %s lacks a badge (has %s)" % (hyp, seen.get(hyp)))
    counts = {o: list(outcomes.values()).count(o) for o in
              ("PASS", "FAIL", "WARN", "INCONCLUSIVE", "ERROR", "SKIPPED")}
    text = "%d passed, %d failed, %d warned, %d inconclusive, %d errors, %d skipped." % tuple(
        counts[o] for o in ("PASS", "FAIL", "WARN", "INCONCLUSIVE", "ERROR", "SKIPPED"))
    if dom.text_of.get("counts", "").strip() != text:
        fail("counts read %r, results.json gives %r" % (dom.text_of.get("counts"), text))

    # Escaping.
    if dom.text_of.get("model-path") != results["model"]["path"]:
        fail("the model path reads %r, expected %r" % (dom.text_of.get("model-path"),
                                                       results["model"]["path"]))
    if "demo" in dom.tags:
        fail("the model path became an element")

    # The screenshot is not blank: many colours, and a good share of non-background pixels.
    shot = os.path.join(profile, "shot.png")
    chromium(browser, profile, "--window-size=900,1200", "--hide-scrollbars",
             "--screenshot=" + shot, "file://" + report)
    with open(shot, "rb") as fh:
        png = fh.read()
    w, h, ch, rows, _ = png_pixels(png)
    background = rows[0][:ch]
    colours, ink = set(), 0
    for y in range(0, h, 7):
        row = rows[y]
        for x in range(0, w * ch, 7 * ch):
            px = row[x:x + ch]
            colours.add(px)
            ink += px != background
    samples = len(range(0, h, 7)) * len(range(0, w * ch, 7 * ch))
    if len(colours) < 16 or ink < samples * 0.02:
        fail("the screenshot looks blank (%d colours, %.1f %% ink)" % (len(colours),
                                                                     100.0 * ink / samples))
    if screenshot_out:
        shutil.copyfile(shot, screenshot_out)
    print("check_report: %d figures (%d hypotheses) present and drawn, badges match, "
          "screenshot %dx%d with %d colours" % (len(have), len(outcomes), w, h, len(colours)))


def load_time_ms(browser, profile, report, runs=3):
    with open(report, encoding="utf-8") as fh:
        page = fh.read()
    probe = ("<script>addEventListener('load',()=>{document.body.offsetHeight;"
             "document.body.setAttribute('data-loaded-ms',performance.now().toFixed(0))})"
             "</script>")
    timed = os.path.join(profile, "timed.html")
    with open(timed, "w", encoding="utf-8") as fh:
        fh.write(page.replace("</head>", probe + "</head>", 1))
    times = []
    for _ in range(runs):
        dom, _ = chromium(browser, profile, "--dump-dom", "file://" + timed)
        m = re.search(r'data-loaded-ms="(\d+)"', dom)
        if not m:
            fail("the timing script did not run")
        times.append(int(m.group(1)))
    return min(times), times


def main(argv):
    browser_arg, screenshot_out, time_file, pos = None, None, None, []
    it = iter(argv)
    for a in it:
        if a == "--chromium":
            browser_arg = next(it)
        elif a == "--screenshot-out":
            screenshot_out = next(it)
        elif a == "--time":
            time_file = next(it)
        else:
            pos.append(a)
    browser = find_chromium(browser_arg)
    profile = tempfile.mkdtemp(prefix="moeprobe-browser-")
    try:
        if time_file:
            best, times = load_time_ms(browser, profile, os.path.abspath(time_file))
            print("check_report: %s (%d bytes): load + layout %d ms (runs: %s)" % (
                time_file, os.path.getsize(time_file), best, ", ".join(map(str, times))))
            return 0
        if len(pos) != 2:
            print(__doc__, file=sys.stderr)
            return 2
        moeprobe, results_path = pos
        with open(results_path, encoding="utf-8") as fh:
            results = json.load(fh)
        results["model"]["path"] = TRICKY_PATH
        work = os.path.join(profile, "in")
        os.makedirs(work)
        with open(os.path.join(work, "results.json"), "w", encoding="utf-8") as fh:
            json.dump(results, fh)
        if "tables_file" in results:
            if os.path.basename(results["tables_file"]) != results["tables_file"]:
                fail("tables_file %r is not a file name" % (results["tables_file"],))
            tables_file = os.path.join(os.path.dirname(results_path), results["tables_file"])
            if os.path.exists(tables_file):
                shutil.copyfile(tables_file, os.path.join(work, results["tables_file"]))
        subprocess.run([moeprobe, "report", os.path.join(work, "results.json"), "--out",
                        os.path.join(work, "rep"), "--format", "html"], check=True,
                       stdout=subprocess.DEVNULL)
        report = os.path.join(work, "rep", "report.html")
        check_page(browser, profile, report,
                   resolve_tables(results, os.path.join(work, "results.json")), screenshot_out)
        best, _ = load_time_ms(browser, profile, report, runs=1)
        print("check_report: load + layout %d ms (%d bytes)" % (best, os.path.getsize(report)))
        if best > 2000:
            fail("report.html took %d ms to load and lay out (limit 2000)" % best)
        return 0
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
