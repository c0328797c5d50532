// The reference verdict for Chrome Recorder cases: @puppeteer/replay's own parser and runner.
//
//   node oracle.mjs BASE_URL CASE.json [CASE.json ...]
//
// Prints one JSON line per case as it finishes (ORACLE_WORKERS cases at a time, default 2):
//   {"case": "<file stem>", "outcome": "passed"|"failed"|"invalid", "error": "...", "ms": <duration>}
// "invalid" = the file is not JSON or `parse()` rejects it; "failed" = `Runner.run()` threw. Each case gets
// a fresh browser context in one shared headless Chromium (never downloaded: CHROMIUM_PATH, else
// /usr/bin/chromium) with a 1280x720 viewport and a 10 s default step timeout, as test_conformance.py
// gives Reprise.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { createRunner, parse, PuppeteerRunnerExtension } from "@puppeteer/replay";
import puppeteer from "puppeteer-core";

const PLACEHOLDER = /\{\{BASE_URL\}\}/g;
const STEP_TIMEOUT_MS = 10000; // the same as test_conformance.py gives Reprise; roomy for a busy machine
const CASE_TIMEOUT_MS = 60000;
const WORKERS = Number(process.env.ORACLE_WORKERS || 2); // cases judged at once, each in its own context
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

function firstLine(error) {
  const text = String(error && error.message ? error.message : error).trim();
  return text.split("\n")[0];
}

function withDeadline(promise, ms) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the oracle gave up after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function judge(browser, baseUrl, path) {
  const text = (await readFile(path, "utf8")).replace(PLACEHOLDER, baseUrl);
  let flow;
  try {
    flow = parse(JSON.parse(text));
  } catch (error) {
    return { outcome: "invalid", error: firstLine(error) };
  }
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const extension = new PuppeteerRunnerExtension(browser, page, { timeout: STEP_TIMEOUT_MS });
    const runner = await createRunner(flow, extension);
    await withDeadline(runner.run(), CASE_TIMEOUT_MS);
    return { outcome: "passed", error: "" };
  } catch (error) {
    return { outcome: "failed", error: firstLine(error) };
  } finally {
    await context.close().catch(() => {});
  }
}

// @puppeteer/replay starts waiting for a step's assertedEvents before the step's action and awaits it only
// when the action succeeds; when the action fails (or the context closes) that promise rejects unobserved.
// The case's verdict is already decided then, so a stray rejection must not end the process.
process.on("unhandledRejection", (reason) => {
  console.error(`oracle: ignored a rejection after its case ended: ${firstLine(reason)}`);
});

async function main() {
  const [baseUrl, ...paths] = process.argv.slice(2);
  if (!baseUrl || paths.length === 0) {
    console.error("usage: node oracle.mjs BASE_URL CASE.json [CASE.json ...]");
    process.exit(2);
  }
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    defaultViewport: { width: 1280, height: 720 },
  });
  try {
    const queue = [...paths];
    const worker = async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        const started = Date.now();
        const verdict = await judge(browser, baseUrl, path);
        const line = { case: basename(path, ".json"), ...verdict, ms: Date.now() - started };
        process.stdout.write(JSON.stringify(line) + "\n");
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
  } finally {
    await browser.close();
  }
}

await main();
