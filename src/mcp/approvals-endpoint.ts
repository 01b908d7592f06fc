/**
 * The approvers' HTTP endpoint, beside /mcp on an HTTP deployment: `GET /approvals` lists the
 * pending requests (`?all=1`: the answered ones kept too), `POST /approvals/ID` with
 * `{"decision": "approve" | "deny", "reason": "…"}` answers one. Only a principal with the approver
 * role (given by the tokens file or --role, never by an OAuth claim) is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SshgateError } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';
import { APPROVER_ROLE, isApprover, type Principal } from '../principal.js';

export const APPROVALS_PATH = '/approvals';

const Answer = z.strictObject({ decision: z.enum(['approve', 'deny']), reason: z.string().max(500).optional() });

/** Whether a path is the endpoint's. */
export function isApprovalsPath(pathname: string): boolean {
  return pathname === APPROVALS_PATH || pathname.startsWith(`${APPROVALS_PATH}/`);
}

export function serveApprovals(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  principal: Principal,
  body: unknown,
  gateway: Gateway,
): void {
  const send = (status: number, payload: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };
  const fail = (status: number, e: { code: string; message: string; hint?: string }) => send(status, { error: e });
  if (!isApprover(principal)) {
    return fail(403, {
      code: 'forbidden',
      message: `${principal.name} may not answer approval requests`,
      hint: `give the principal the ${APPROVER_ROLE} role in the tokens file (roles: [${APPROVER_ROLE}]); OAuth claims never give it`,
    });
  }
  let id: string;
  try {
    id = decodeURIComponent(url.pathname.slice(APPROVALS_PATH.length + 1));
  } catch {
    return fail(400, {
      code: 'invalid_input',
      message: 'the approval id is not valid percent-encoding',
      hint: 'GET /approvals lists the ids',
    });
  }
  if (id === '') {
    if (req.method !== 'GET') return fail(405, { code: 'invalid_input', message: 'GET lists the approval requests' });
    return send(200, { approvals: gateway.listApprovals(url.searchParams.get('all') === '1') });
  }
  if (req.method !== 'POST') return fail(405, { code: 'invalid_input', message: 'POST answers an approval request' });
  const answer = Answer.safeParse(body);
  if (!answer.success) {
    return fail(400, {
      code: 'invalid_input',
      message: 'the body must be {"decision": "approve" | "deny", "reason": "…"}',
      hint: 'a denial should say why: the agent and the audit are told',
    });
  }
  try {
    const { decision, reason } = answer.data;
    const view = gateway.answerApproval(
      id,
      { name: principal.name, via: principal.via, channel: 'http-admin' },
      decision === 'approve',
      reason,
    );
    send(200, { approval: view });
  } catch (err) {
    const e = err instanceof SshgateError ? err : new SshgateError('internal', 'the request could not be answered', 'see the server log');
    fail(e.code === 'not_found' ? 404 : e.code === 'forbidden' ? 403 : e.code === 'invalid_input' ? 409 : 500, e.toJSON());
  }
}
