import { STATUS } from './membership/state.js';

export { STATUS, type Status } from './membership/state.js';
export type { ApiClusterNode } from './membership/snapshot.js';

/** The seed's status names, one constant each. */
export const StatusOffline = STATUS.OFFLINE;
export const StatusAuthenticating = STATUS.AUTHENTICATING;
export const StatusOnline = STATUS.ONLINE;
export const StatusLeaving = STATUS.LEAVING;
export const StatusShutdown = STATUS.STOPPING;
