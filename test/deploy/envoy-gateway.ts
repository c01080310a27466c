// Envoy Gateway's BackendTrafficPolicy (gateway.envoyproxy.io/v1alpha1) has no model package we can
// install, so this module is its model, in the shape k8s-schema.ts expects of kubernetes-models: an
// interface (tsc's excess-property check names any field it does not declare) and a class whose
// validate() throws. It covers only the fields k8s/ uses, written from Envoy Gateway's API
// (api/v1alpha1: backendtrafficpolicy_types.go, loadbalancer_types.go, policy target references),
// with its rules: required fields, enums, and the CEL rules of the LoadBalancer and ConsistentHash
// unions. Declare a field here, from that API, before k8s/ uses it.
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';

type ObjectMeta = NonNullable<IConfigMap['metadata']>;

/** A policy attaches to a resource of its own namespace: the reference has no namespace. */
export interface ILocalPolicyTargetReferenceWithSectionName {
  group: 'gateway.networking.k8s.io';
  kind: 'Gateway' | 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'UDPRoute' | 'TLSRoute';
  name: string;
  sectionName?: string;
}

export interface IConsistentHash {
  type: 'SourceIP' | 'Header' | 'Cookie';
  header?: { name: string };
  cookie?: { name: string; ttl?: string; attributes?: Record<string, string> };
  tableSize?: number;
}

export interface ILoadBalancer {
  type: 'ConsistentHash' | 'LeastRequest' | 'Random' | 'RoundRobin';
  consistentHash?: IConsistentHash;
  slowStart?: { window: string };
}

export interface IBackendTrafficPolicy {
  apiVersion: 'gateway.envoyproxy.io/v1alpha1';
  kind: 'BackendTrafficPolicy';
  metadata?: ObjectMeta;
  spec: {
    targetRefs: ILocalPolicyTargetReferenceWithSectionName[];
    loadBalancer?: ILoadBalancer;
  };
}

/** A field's shape: a scalar, an enum, a list or a string map of one shape, or an object of fields. */
type Shape = 'string' | 'number' | { readonly oneOf: readonly string[] } | { readonly listOf: Shape } | { readonly mapOf: Shape } | { readonly fields: Fields };
interface Fields {
  readonly [key: string]: Shape;
}

const SPEC: Shape = {
  fields: {
    targetRefs: {
      listOf: {
        fields: {
          group: { oneOf: ['gateway.networking.k8s.io'] },
          kind: { oneOf: ['Gateway', 'HTTPRoute', 'GRPCRoute', 'TCPRoute', 'UDPRoute', 'TLSRoute'] },
          name: 'string',
          sectionName: 'string',
        },
      },
    },
    loadBalancer: {
      fields: {
        type: { oneOf: ['ConsistentHash', 'LeastRequest', 'Random', 'RoundRobin'] },
        consistentHash: {
          fields: {
            type: { oneOf: ['SourceIP', 'Header', 'Cookie'] },
            header: { fields: { name: 'string' } },
            cookie: { fields: { name: 'string', ttl: 'string', attributes: { mapOf: 'string' } } },
            tableSize: 'number',
          },
        },
        slowStart: { fields: { window: 'string' } },
      },
    },
  },
};
/** The required fields (list items as []). */
const REQUIRED = new Set([
  'spec.targetRefs',
  'spec.targetRefs[].group',
  'spec.targetRefs[].kind',
  'spec.targetRefs[].name',
  'spec.loadBalancer.type',
  'spec.loadBalancer.consistentHash.type',
  'spec.loadBalancer.consistentHash.header.name',
  'spec.loadBalancer.consistentHash.cookie.name',
  'spec.loadBalancer.slowStart.window',
]);

/** RFC 7230 token: what Envoy accepts as a header name. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function check(value: unknown, shape: Shape, at: string, errors: string[]): void {
  if (shape === 'string' || shape === 'number') {
    if (typeof value !== shape || (shape === 'string' && value === '')) errors.push(`${at} must be a non-empty ${shape}`);
  } else if ('oneOf' in shape) {
    if (!shape.oneOf.includes(value as string)) errors.push(`${at} must be one of ${shape.oneOf.join(', ')} (is ${JSON.stringify(value)})`);
  } else if ('listOf' in shape) {
    if (Array.isArray(value)) value.forEach((item, i) => check(item, shape.listOf, `${at}[${i}]`, errors));
    else errors.push(`${at} must be a list`);
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${at} must be an object`);
  } else if ('mapOf' in shape) {
    for (const [key, item] of Object.entries(value)) check(item, shape.mapOf, `${at}.${key}`, errors);
  } else {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) if (shape.fields[key] === undefined) errors.push(`${at}.${key} is not a field of the model`);
    for (const [key, sub] of Object.entries(shape.fields)) {
      const path = `${at}.${key}`;
      if (object[key] !== undefined) check(object[key], sub, path, errors);
      else if (REQUIRED.has(path.replace(/\[\d+\]/g, '[]'))) errors.push(`${path} is required`);
    }
  }
}

/** Every rule the doc breaks, as messages (empty when it is valid). */
export function backendTrafficPolicyErrors(doc: Record<string, any>): string[] {
  const errors: string[] = [];
  if (doc.apiVersion !== 'gateway.envoyproxy.io/v1alpha1') errors.push(`apiVersion must be gateway.envoyproxy.io/v1alpha1`);
  if (doc.kind !== 'BackendTrafficPolicy') errors.push('kind must be BackendTrafficPolicy');
  if (typeof doc.metadata?.name !== 'string' || doc.metadata.name === '') errors.push('metadata.name is required');
  check(doc.spec, SPEC, 'spec', errors);
  const refs = doc.spec?.targetRefs as unknown[] | undefined;
  if (Array.isArray(refs) && refs.length === 0) errors.push('spec.targetRefs must name at least one resource');
  // The CEL rules of the unions (loadbalancer_types.go).
  const lb = doc.spec?.loadBalancer as Record<string, any> | undefined;
  if (lb !== undefined) {
    if ((lb.type === 'ConsistentHash') !== (lb.consistentHash !== undefined))
      errors.push('spec.loadBalancer: consistentHash must be set if and only if type is ConsistentHash');
    if (['Random', 'ConsistentHash'].includes(lb.type as string) && lb.slowStart !== undefined)
      errors.push('spec.loadBalancer: slowStart is only supported for RoundRobin and LeastRequest');
    const ch = lb.consistentHash as Record<string, any> | undefined;
    if (ch !== undefined) {
      if ((ch.type === 'Header') !== (ch.header !== undefined))
        errors.push('spec.loadBalancer.consistentHash: header must be set if and only if type is Header');
      if ((ch.type === 'Cookie') !== (ch.cookie !== undefined))
        errors.push('spec.loadBalancer.consistentHash: cookie must be set if and only if type is Cookie');
      if (typeof ch.header?.name === 'string' && !HEADER_NAME.test(ch.header.name as string))
        errors.push(`spec.loadBalancer.consistentHash.header.name ${JSON.stringify(ch.header.name)} is not a header name`);
      if (ch.tableSize !== undefined && !(Number.isInteger(ch.tableSize) && ch.tableSize >= 2 && ch.tableSize <= 5000011))
        errors.push('spec.loadBalancer.consistentHash.tableSize must be an integer in [2, 5000011]');
    }
  }
  return errors;
}

/** The model class k8s-schema.ts instantiates, like kubernetes-models' classes. */
export class BackendTrafficPolicy {
  readonly #doc: Record<string, any>;

  constructor(doc: Record<string, any>) {
    this.#doc = doc;
  }

  validate(): void {
    const errors = backendTrafficPolicyErrors(this.#doc);
    if (errors.length > 0) throw new Error(errors.join('; '));
  }
}
