// What Bull Board's UI would show for QUEUE_NAME, without a web server: the board is built with
// `createBullBoard` and its `BullMQAdapter` on an in-memory server adapter (the IServerAdapter interface that
// @bull-board/express implements), then the UI's two API calls are made on the route handlers directly:
//   GET /api/queues?activeQueue=Q&status=STATUS  (the queue page: counts, `hasWorkers`, that status's jobs)
//   GET /api/queues/Q/workers                    (the queue info panel's worker list)
// Prints {"queues": <the first body's queues>, "workers": <the second body's workers>}. STATUS: JOB_STATUS
// (default `completed`).
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { Queue } from "bullmq";
import { printResult, queueName, redisConnection } from "./env.mjs";

class InMemoryServerAdapter {
  queues = new Map();
  uiConfig = {};
  apiRoutes = [];

  setQueues(queues) { this.queues = queues; return this; }
  setViewsPath() { return this; }
  setStaticPath() { return this; }
  setEntryRoute() { return this; }
  setErrorHandler(handler) { this.errorHandler = handler; return this; }
  setApiRoutes(routes) { this.apiRoutes = routes; return this; }
  setUIConfig(config) { this.uiConfig = config; return this; }

  // Calls the GET route declared as `route` (e.g. "/api/queues/:queueName/workers"), as a server would.
  async get(route, { params = {}, query = {} } = {}) {
    const found = this.apiRoutes.find((candidate) => [candidate.method].flat().includes("get")
      && [candidate.route].flat().includes(route));
    if (!found) {
      throw new Error(`Bull Board has no GET ${route}`);
    }
    const request = { queues: this.queues, uiConfig: this.uiConfig, params, query, body: {}, headers: {} };
    let response;
    try {
      response = await found.handler(request);
    } catch (error) {
      response = this.errorHandler(error);
    }
    if ((response.status ?? 200) !== 200) {
      throw new Error(`GET ${route}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }
}

const connection = redisConnection();
const queue = new Queue(queueName, { connection });
try {
  const server = new InMemoryServerAdapter();
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: true })], serverAdapter: server });
  const listing = await server.get("/api/queues", {
    query: { activeQueue: queueName, status: process.env.JOB_STATUS ?? "completed", page: "1", jobsPerPage: "50" },
  });
  const panel = await server.get("/api/queues/:queueName/workers", { params: { queueName } });
  printResult({ queues: listing.queues, workers: panel.workers });
} finally {
  await queue.close();
  await connection.quit();
}
