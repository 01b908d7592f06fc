/**
 * The MCP server SDK's `_shims` module as the bundle has it (rolldown.config.mjs): Node's process,
 * and the SDK's own cfworker JSON Schema validator instead of its Node default, ajv. The server
 * validates with it only an elicitation's answer against the form it asked for (client-approval.ts);
 * ajv is 290 KB of the SDK's 820 that every start loaded and compiled for that. Running from the
 * sources (the tests), the SDK keeps ajv; the end-to-end tests run the bundle.
 */
export { CfWorkerJsonSchemaValidator as DefaultJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
export { default as process } from 'node:process';
