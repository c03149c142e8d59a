export { decodeMessage, EventBus, STREAM, type BusEvent, type BusMessage } from './bus.js';
export { ClusterNode, OutboxSender, type AlertOutputs, type ClusterOptions } from './node.js';
export { eventKey, fnv1a, ownerOf, partitionOf, partitionsFor } from './partition.js';
export { ClusterState, type ClusterAlert, type Lease, type SharedEntry } from './state.js';
export { expandedKeys, forwardTargets, HOST_SCOPED_FIELDS, joinsWithinHost, keyPartition, streamRoute } from './rekey.js';
