// What every script here takes from its environment (tests/node_tools.py passes it): the Redis URL and the
// queue, and `printResult`, the one JSON line on stdout the Python side parses.
import { Redis } from "ioredis";

export const queueName = required("QUEUE_NAME");

export function redisConnection() {
  // BullMQ wants maxRetriesPerRequest null on connections its blocking commands use.
  return new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0", { maxRetriesPerRequest: null });
}

export function printResult(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}
