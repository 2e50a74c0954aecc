/**
 * `rxcluster/testing`: tools for testing a clustered application in virtual
 * time, starting with {@link MemoryNetwork}, an in-memory network with
 * partitions, cuts, latency, kill and freeze.
 *
 * @packageDocumentation
 */
export { MemoryNetwork, type MemoryNetworkOptions } from './transport/memory/index.js';
