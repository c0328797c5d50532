// Queue a Reprise run from a Node service with BullMQ, follow its steps, and wait for its result.
//
//   npm install bullmq ioredis
//   REDIS_URL=redis://127.0.0.1:6379 QUEUE_NAME=test-runs node node-producer.mjs request.json
//
// request.json is what `POST /api/runs` takes: {"script": <recording>, "name"?, "priority"?, options...}
// (docs/job-format.md, docs/job-format.schema.json). Prints each step to stderr and the run's summary as JSON
// to stdout; exits 0 when the run passed, 1 when it ended otherwise, 2 when the job failed (invalid data: the
// message names the field).
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Queue, QueueEvents } from "bullmq";
import IORedis from "ioredis";

// BullMQ takes jobs without a priority before every prioritized one, and each Reprise run carries one.
const PRIORITIES = { high: 1, normal: 2, low: 3 };
const WAIT_MS = Number(process.env.WAIT_MS ?? 10 * 60 * 1000);

const request = JSON.parse(await readFile(process.argv[2], "utf8"));
const queueName = process.env.QUEUE_NAME ?? "test-runs";
const connection = new IORedis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const events = new QueueEvents(queueName, { connection });
await events.waitUntilReady();

// Our own job id, so the progress listener is in place before the first step can report.
const jobId = randomUUID();
events.on("progress", ({ jobId: id, data }) => {
  if (id === jobId) console.error(`step ${data.step}/${data.steps} ${data.type}: ${data.status}`);
});
const job = await queue.add("run", request, {
  jobId,
  priority: PRIORITIES[request.priority ?? "normal"],
  attempts: 3, // the worker spends these on infrastructure failures only (a failed test is a result)
  backoff: { type: "exponential", delay: 2000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
});

try {
  const summary = await job.waitUntilFinished(events, WAIT_MS);
  console.log(JSON.stringify({ jobId: job.id, ...summary }));
  process.exitCode = summary.status === "passed" ? 0 : 1;
} catch (error) {
  console.error(`job ${job.id} failed: ${error.message}`);
  process.exitCode = 2;
} finally {
  await events.close();
  await queue.close();
  await connection.quit();
}
