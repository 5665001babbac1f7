/**
 * DescribeConfigs (key 32), versions 0-4, per resource:
 *
 *   topic (2)              every supported topic config with its effective
 *                          value and source (config-entries.ts); synonyms
 *                          when IncludeSynonyms (v1+); config type (v3+)
 *   broker (4) "<id>"      this broker's read-only settings
 *   broker (4) ""          the cluster-wide dynamic broker defaults: Ferry
 *                          has none, so an empty list
 *   anything else          INVALID_REQUEST
 *
 * ConfigurationKeys narrows the list; names Ferry does not have are left
 * out, as Kafka does. Documentation is always null.
 */

import { FerryError } from '../../../errors.js';
import { validateTopicName } from '../../../storage/log-manager.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { brokerConfigEntries, RESOURCE_TYPE, topicConfigEntries, type ConfigEntry } from './config-entries.js';
import { errorFields } from './error-fields.js';

interface DescribeConfigsResource {
  resourceType: number;
  resourceName: string;
  configurationKeys: string[] | null;
}

interface DescribeConfigsRequest {
  resources: DescribeConfigsResource[];
  includeSynonyms: boolean;
}

export const describeConfigsHandler: ApiHandler = {
  apiKey: 32,
  versions: { min: 0, max: 4 },
  handle(request, context) {
    const body = request as unknown as DescribeConfigsRequest;
    const results = body.resources.map((resource) => {
      const answer = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      try {
        const entries = resourceConfigs(resource, body.includeSynonyms, context);
        const wanted = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
        return { ...answer, errorCode: 0, errorMessage: null, configs: wanted === null ? entries : entries.filter((entry) => wanted.has(entry.name)) };
      } catch (error) {
        return { ...answer, ...errorFields(error, context.logger, `DescribeConfigs of ${resource.resourceType}/${resource.resourceName}`), configs: [] };
      }
    });
    return { throttleTimeMs: 0, results };
  },
};

function resourceConfigs(resource: DescribeConfigsResource, includeSynonyms: boolean, context: RequestContext): ConfigEntry[] {
  const { broker } = context;
  if (resource.resourceType === RESOURCE_TYPE.TOPIC) {
    validateTopicName(resource.resourceName); // INVALID_TOPIC_EXCEPTION before UNKNOWN_TOPIC_OR_PARTITION, as Kafka
    return topicConfigEntries(broker.describeTopic(resource.resourceName).configs, broker.topicConfigDefaults, includeSynonyms);
  }
  if (resource.resourceType === RESOURCE_TYPE.BROKER) {
    if (resource.resourceName === '') return [];
    checkBrokerName(resource.resourceName, broker.brokerId);
    return brokerConfigEntries(broker);
  }
  throw new FerryError('INVALID_REQUEST', `resource type ${resource.resourceType} has no configs in Ferry (topic ${RESOURCE_TYPE.TOPIC} and broker ${RESOURCE_TYPE.BROKER} do)`);
}

/** A broker resource names this broker by id (or is "" for the cluster-wide defaults). */
export function checkBrokerName(resourceName: string, brokerId: number): void {
  if (resourceName !== String(brokerId)) {
    throw new FerryError('INVALID_REQUEST', `broker resource ${JSON.stringify(resourceName)}: this is broker ${brokerId} (or use "" for the cluster-wide defaults)`);
  }
}
