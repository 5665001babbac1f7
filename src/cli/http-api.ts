/**
 * The CLI's view of a running broker: its HTTP door, Confluent REST v3
 * shapes. The CLI never touches a broker's files; everything goes through here,
 * with one clear message when the broker cannot be reached.
 */

export interface V3Topic {
  topic_name: string;
  topic_id: string;
  is_internal: boolean;
  replication_factor: number;
  partitions_count: number;
}

export interface V3Partition {
  partition_id: number;
  leader_id: number;
  leader_epoch: number;
  replica_ids: number[];
  isr_ids: number[];
  log_start_offset: number;
  log_end_offset: number;
  /** Present only while a reassignment moves the partition. */
  adding_replica_ids?: number[];
  removing_replica_ids?: number[];
}

export interface V3Config {
  name: string;
  value: string | null;
}

interface V3List<T> {
  data: T[];
}

/** A broker error, or an unreachable broker, said in one line. */
export class CliError extends Error {}

export class BrokerHttpApi {
  private clusterId: string | null = null;

  constructor(private readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError(`cannot reach the broker at ${this.baseUrl} (${cause}); is it running? (ferry start, or set --http / FERRY_HTTP)`);
    }
    const text = await response.text();
    if (!response.ok) {
      const message = text ? ((JSON.parse(text) as { message?: string }).message ?? text) : response.statusText;
      throw new CliError(message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async cluster(): Promise<string> {
    this.clusterId ??= (await this.call<V3List<{ cluster_id: string }>>('GET', '/v3/clusters')).data[0]!.cluster_id;
    return `/v3/clusters/${encodeURIComponent(this.clusterId)}`;
  }

  private async topicPath(topic: string): Promise<string> {
    return `${await this.cluster()}/topics/${encodeURIComponent(topic)}`;
  }

  async listTopics(): Promise<V3Topic[]> {
    return (await this.call<V3List<V3Topic>>('GET', `${await this.cluster()}/topics`)).data;
  }

  async createTopic(topic: string, partitions: number | undefined, configs: V3Config[], replicationFactor?: number): Promise<V3Topic> {
    return this.call('POST', `${await this.cluster()}/topics`, {
      topic_name: topic,
      ...(partitions === undefined ? {} : { partitions_count: partitions }),
      ...(replicationFactor === undefined ? {} : { replication_factor: replicationFactor }),
      configs,
    });
  }

  async topic(topic: string): Promise<V3Topic> {
    return this.call('GET', await this.topicPath(topic));
  }

  async partitions(topic: string): Promise<V3Partition[]> {
    return (await this.call<V3List<V3Partition>>('GET', `${await this.topicPath(topic)}/partitions`)).data;
  }

  async configs(topic: string): Promise<V3Config[]> {
    return (await this.call<V3List<V3Config>>('GET', `${await this.topicPath(topic)}/configs`)).data;
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.call('DELETE', await this.topicPath(topic));
  }

  async setPartitionCount(topic: string, partitions: number): Promise<void> {
    await this.call('PATCH', await this.topicPath(topic), { partitions_count: partitions });
  }

  async alterConfigs(topic: string, set: V3Config[], remove: string[]): Promise<void> {
    const data = [...set.map((config) => ({ name: config.name, value: config.value })), ...remove.map((name) => ({ name, operation: 'DELETE' }))];
    await this.call('POST', `${await this.topicPath(topic)}/configs:alter`, { data });
  }
}
