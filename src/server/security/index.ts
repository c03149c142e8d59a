export { Credentials, newPassword, type Principal, type SecurityEntry } from './credentials.js';
export { NO_SECURITY, registerSecurity, rolesFromDescriptors, type SecurityConfig } from './http.js';
export { privilegeFor, allows, ROLES, type Role, type Privilege } from './access.js';
export { readTls, selfSignedTls, type TlsMaterial } from './tls.js';
