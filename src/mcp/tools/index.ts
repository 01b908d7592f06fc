/** Every tool the server offers. */
import type { Gateway } from '../../gateway/gateway.js';
import type { ToolRegistry } from '../registry.js';
import { registerConfigTools } from './config-tools.js';
import { registerFanOutTools } from './fan-out-tools.js';
import { registerFileTools } from './file-tools.js';
import { registerHostTools } from './hosts-tools.js';
import { registerPlanTools } from './plan-tools.js';
import { registerRunTools } from './run-tools.js';
import { registerTaskTools } from './tasks-tools.js';

export function registerTools(tools: ToolRegistry, gateway: Gateway): void {
  registerHostTools(tools, gateway);
  registerPlanTools(tools, gateway);
  registerRunTools(tools, gateway);
  registerTaskTools(tools, gateway);
  registerFanOutTools(tools, gateway);
  registerConfigTools(tools, gateway);
  registerFileTools(tools, gateway);
}
