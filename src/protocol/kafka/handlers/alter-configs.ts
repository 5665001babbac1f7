/**
 * AlterConfigs (key 33, versions 0-2) and IncrementalAlterConfigs (key 44,
 * versions 0-1) for topics. Both validate every change before applying any
 * (a resource is changed whole or not at all), and with ValidateOnly change
 * nothing.
 *
 *   AlterConfigs              the request's configs become the topic's whole
 *                             set: configs it leaves out go back to their
 *                             defaults, as in Kafka
 *   IncrementalAlterConfigs   per config: SET (0), DELETE (1), and for list
 *                             configs (cleanup.policy) APPEND (2) and
 *                             SUBTRACT (3) against the effective value
 *
 * Errors per resource: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION,
 * INVALID_CONFIG (unknown name, bad value, APPEND to a non-list config),
 * INVALID_REQUEST (null value where one is needed, a config or resource
 * named twice, an unknown operation). Broker configs are read-only in
 * Ferry: altering one is INVALID_REQUEST.
 */

import type { Broker } from '../../../broker/broker.js';
import { FerryError } from '../../../errors.js';
import { logConfigFromTopicConfigs } from '../../../storage/log-config.js';
import { validateTopicName } from '../../../storage/log-manager.js';
import type { ApiHandler, RequestContext } from '../handler.js';
import { CONFIG_TYPE, isTopicConfigName, RESOURCE_TYPE, topicConfigEntries, topicConfigType } from './config-entries.js';
import { checkBrokerName } from './describe-configs.js';
import { errorFields } from './error-fields.js';
import { refuseRepeatedNames } from './repeated-names.js';

interface AlterableConfig {
  name: string;
  value: string | null;
  /** IncrementalAlterConfigs only. */
  configOperation?: number;
}

interface AlterConfigsResource {
  resourceType: number;
  resourceName: string;
  configs: AlterableConfig[];
}

interface AlterConfigsRequest {
  resources: AlterConfigsResource[];
  validateOnly: boolean;
}

/** Kafka's AlterConfigOp.OpType. */
const OPERATION = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/** Topic config name -> new value, or null to go back to the default. */
type ConfigChanges = Map<string, string | null>;

type ChangesFor = (resource: AlterConfigsResource, broker: Broker) => ConfigChanges;

export const alterConfigsHandler: ApiHandler = {
  apiKey: 33,
  versions: { min: 0, max: 2 },
  handle: (request, context) => alterResources(request as unknown as AlterConfigsRequest, context, replacingChanges),
};

export const incrementalAlterConfigsHandler: ApiHandler = {
  apiKey: 44,
  versions: { min: 0, max: 1 },
  handle: (request, context) => alterResources(request as unknown as AlterConfigsRequest, context, incrementalChanges),
};

async function alterResources(body: AlterConfigsRequest, context: RequestContext, changesFor: ChangesFor): Promise<Record<string, unknown>> {
  const resourceKey = (resource: AlterConfigsResource): string => `${resource.resourceType}/${resource.resourceName}`;
  const refuseRepeated = refuseRepeatedNames(body.resources, resourceKey, 'resource');
  const responses = [];
  for (const resource of body.resources) responses.push(await alterOne(resource));
  return { throttleTimeMs: 0, responses };

  async function alterOne(resource: AlterConfigsResource): Promise<Record<string, unknown>> {
    const answer = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    try {
      refuseRepeated(resource);
      await alterResource(resource, body.validateOnly, context.broker, changesFor);
      return { ...answer, errorCode: 0, errorMessage: null };
    } catch (error) {
      return { ...answer, ...errorFields(error, context.logger, `altering configs of ${resourceKey(resource)}`) };
    }
  }
}

async function alterResource(resource: AlterConfigsResource, validateOnly: boolean, broker: Broker, changesFor: ChangesFor): Promise<void> {
  if (resource.resourceType === RESOURCE_TYPE.BROKER) {
    if (resource.resourceName !== '') checkBrokerName(resource.resourceName, broker.brokerId);
    if (resource.configs.length > 0) throw new FerryError('INVALID_REQUEST', `broker configs are read-only in Ferry (set them in server.properties): ${resource.configs.map((c) => c.name).join(', ')}`);
    return;
  }
  if (resource.resourceType !== RESOURCE_TYPE.TOPIC) throw new FerryError('INVALID_REQUEST', `resource type ${resource.resourceType} has no alterable configs in Ferry`);
  validateTopicName(resource.resourceName);
  const current = broker.describeTopic(resource.resourceName).configs;
  const names = new Set<string>();
  for (const config of resource.configs) {
    if (names.has(config.name)) throw new FerryError('INVALID_REQUEST', `config ${config.name} is named more than once`);
    names.add(config.name);
    if (!isTopicConfigName(config.name)) throw new FerryError('INVALID_CONFIG', `unknown topic config ${config.name}`);
  }
  const changes = changesFor(resource, broker);
  const next: Record<string, string> = { ...current };
  for (const [name, value] of changes) {
    if (value === null) delete next[name];
    else next[name] = value;
  }
  logConfigFromTopicConfigs(next); // every value checked before anything changes
  if (!validateOnly) await broker.alterTopicConfigs(resource.resourceName, Object.fromEntries(changes));
}

/** AlterConfigs: the request's set replaces the topic's; a null value is refused, as Kafka does. */
function replacingChanges(resource: AlterConfigsResource, broker: Broker): ConfigChanges {
  const changes: ConfigChanges = new Map();
  for (const name of Object.keys(broker.describeTopic(resource.resourceName).configs)) changes.set(name, null);
  for (const config of resource.configs) changes.set(config.name, requiredValue(config));
  return changes;
}

function incrementalChanges(resource: AlterConfigsResource, broker: Broker): ConfigChanges {
  const changes: ConfigChanges = new Map();
  for (const config of resource.configs) {
    switch (config.configOperation) {
      case OPERATION.SET:
        changes.set(config.name, requiredValue(config));
        break;
      case OPERATION.DELETE:
        changes.set(config.name, null);
        break;
      case OPERATION.APPEND:
      case OPERATION.SUBTRACT:
        changes.set(config.name, listChange(config, effectiveValue(broker, resource.resourceName, config.name)));
        break;
      default:
        throw new FerryError('INVALID_REQUEST', `config ${config.name}: unknown operation ${config.configOperation}`);
    }
  }
  return changes;
}

function requiredValue(config: AlterableConfig): string {
  if (config.value === null) throw new FerryError('INVALID_REQUEST', `config ${config.name}: a null value is not supported`);
  return config.value;
}

function effectiveValue(broker: Broker, topic: string, name: string): string {
  const entries = topicConfigEntries(broker.describeTopic(topic).configs, broker.topicConfigDefaults, false);
  return entries.find((entry) => entry.name === name)?.value ?? '';
}

/** APPEND adds the listed items missing from the current list; SUBTRACT removes them. */
function listChange(config: AlterableConfig, current: string): string {
  if (topicConfigType(config.name) !== CONFIG_TYPE.LIST) {
    throw new FerryError('INVALID_CONFIG', `config ${config.name} is not a list: APPEND and SUBTRACT apply to list configs only`);
  }
  const items = splitList(requiredValue(config));
  const list = splitList(current);
  const result = config.configOperation === OPERATION.APPEND ? [...list, ...items.filter((item) => !list.includes(item))] : list.filter((item) => !items.includes(item));
  return result.join(',');
}

function splitList(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}
