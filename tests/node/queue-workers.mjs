// The workers npm bullmq sees on QUEUE_NAME: `Queue.getWorkers()` (one entry per named Redis connection) and
// the client name Node gives this queue, `<prefix>:<base64(queue)>`, that worker names start with.
//   {"clientName": "bull:...", "workers": [{"name": QUEUE_NAME, "rawname": "bull:...:w:worker-1", ...}]}
import { Queue } from "bullmq";
import { printResult, queueName, redisConnection } from "./env.mjs";

const connection = redisConnection();
const queue = new Queue(queueName, { connection });
try {
  printResult({ clientName: queue.clientName(), workers: await queue.getWorkers() });
} finally {
  await queue.close();
  await connection.quit();
}
