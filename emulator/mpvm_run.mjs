// Runs one MicroPython program in real MicroPython (the @micropython/micropython-webassembly-pyscript
// build) and reports the result as one JSON object on stdout. Driven by emulator/mpvm.py.
//
// Job (JSON on stdin): {"mjs": "<abs path to micropython.mjs>", "files": {"/lib/x.py": "<text>"},
//                       "code": "<python source>", "heapsize": <bytes>}
// Result: {"ok": true, "stdout": "..."} or {"ok": false, "stdout": "...", "error": "<traceback>"}
// Python's stdout is captured (never mixed with the result line), so a program may print anything;
// integers should cross as printed JSON text because the JS bridge converts them to 32-bit.
import { readFileSync } from "fs";
import { pathToFileURL } from "url";

const job = JSON.parse(readFileSync(0, "utf8"));
const { loadMicroPython } = await import(pathToFileURL(job.mjs).href);
let out = "";
const mp = await loadMicroPython({
    heapsize: job.heapsize || 1024 * 1024,
    stdout: (s) => { out += s + "\n"; },
    stderr: (s) => { out += s + "\n"; },
    linebuffer: true,
});
for (const [path, text] of Object.entries(job.files || {})) {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) mp.FS.mkdirTree(dir);
    mp.FS.writeFile(path, text);
}
let result;
try {
    mp.runPython(job.code);
    result = { ok: true, stdout: out };
} catch (e) {
    // PythonError carries MicroPython's own traceback text in .message.
    result = { ok: false, stdout: out, error: String(e && e.message ? e.message : e) };
}
process.stdout.write(JSON.stringify(result) + "\n");
