/** Every tool the server offers. */
import type { Gateway } from '../../gateway/gateway.js';
import type { ToolRegistry } from '../registry.js';
import { registerConfigTools } from './config.js';
import { registerFanOutTools } from './fan-out.js';
import { registerHostTools } from './hosts.js';
import { registerPlanTools } from './plan.js';
import { registerRunTools } from './run.js';
import { registerTaskTools } from './tasks.js';

export function registerTools(tools: ToolRegistry, gateway: Gateway): void {
  registerHostTools(tools, gateway);
  registerPlanTools(tools, gateway);
  registerRunTools(tools, gateway);
  registerTaskTools(tools, gateway);
  registerFanOutTools(tools, gateway);
  registerConfigTools(tools, gateway);
}
