/**
 * Kafka answers per topic, then per partition; the coordinator answers per
 * (topic, partition). This folds the second into the first, keeping the
 * order in which topics first appear.
 */

export function byTopic<T extends { topic: string }, P>(entries: readonly T[], partitionOf: (entry: T) => P): Array<{ name: string; partitions: P[] }> {
  const topics = new Map<string, P[]>();
  for (const entry of entries) {
    let partitions = topics.get(entry.topic);
    if (!partitions) topics.set(entry.topic, (partitions = []));
    partitions.push(partitionOf(entry));
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}
