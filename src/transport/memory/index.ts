/**
 * The in-memory transport: a whole cluster in one process, in virtual time.
 *
 * @packageDocumentation
 */
export { MemoryNetwork, type MemoryNetworkOptions } from './network.js';
