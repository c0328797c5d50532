"""Reading Prometheus scrapes in tests: parsed with prometheus_client's own text parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

# The global truths of an API scrape (the same from every replica), as opposed to a process's own metrics.
GLOBAL_PREFIXES = ("bullmq_queue_", "reprise_runs_finished", "reprise_run_duration", "reprise_workers_live")


def samples_of(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


async def scrape(client: httpx.AsyncClient, path: str = "/metrics") -> list[Sample]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples_of(response.text)


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The one sample named so whose labels include `labels`; None when there is none."""
    found = [sample.value for sample in samples if sample.name == name and labels.items() <= sample.labels.items()]
    assert len(found) <= 1, f"{name}{labels} is ambiguous: {found}"
    return found[0] if found else None


def global_samples(samples: list[Sample]) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    """The queue gauges, live workers and run counters of a scrape, comparable across API instances."""
    return {(sample.name, tuple(sorted(sample.labels.items())), sample.value) for sample in samples
            if sample.name.startswith(GLOBAL_PREFIXES) and not sample.name.endswith("_created")}
