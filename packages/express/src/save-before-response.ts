import type session from "express-session";
import { budgetOf, runWithBudget } from "@sessionbridge/core/adapter";

// express's types through express-session's (this package depends on express-session only).
type RequestHandler = ReturnType<typeof session>;
type Request = Parameters<RequestHandler>[0];
type Response = Parameters<RequestHandler>[1];
type NextFunction = Parameters<RequestHandler>[2];

type Session = Record<string, unknown> & { save(callback: (error?: unknown) => void): void; cookie?: unknown };

/**
 * Middleware to mount right after express-session: a session the request changed is saved before the
 * response is sent, so a failed save (backend down, hung, wrong password) answers with the error (503
 * for an outage, 500 otherwise) through the application's error handlers, instead of express-session's
 * behaviour: it sends the status line and headers (the `Set-Cookie` of a session never stored) first and
 * saves afterwards, so the visitor gets a 200 and the session is silently lost.
 *
 * It also gives the whole request one deadline for the store (see core's request-budget.ts): the
 * store operations the request's handlers make share `timeoutMs`.
 *
 * What it saves first: a session whose data or id changed during the request (a login, a write). An
 * unchanged session is left to express-session (a failed refresh of its expiry loses no data), and so is
 * a response the application streams (`res.write` before `res.end`: its headers are already sent).
 */
export function saveBeforeResponse(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const session = req.session as unknown as Session | undefined;
    if (session === undefined) return next(); // express-session skipped it (store disconnected)
    const id = req.sessionID;
    const data = fingerprint(session);
    const end = res.end;
    let saving = false;
    res.end = function endAfterSave(this: Response, ...args: unknown[]): Response {
      const now = req.session as unknown as Session | undefined;
      if (saving || now === undefined || res.headersSent || (req.sessionID === id && fingerprint(now) === data)) {
        return (end as (...a: unknown[]) => Response).apply(this, args);
      }
      if (budgetOf(req)?.failure !== undefined) {
        // The store already failed this request (the answer is most likely that error's page): the
        // save would fail at once, and the error handlers would run a second time. Drop the session.
        delete (req as { session?: unknown }).session;
        return (end as (...a: unknown[]) => Response).apply(this, args);
      }
      saving = true;
      now.save((error) => {
        if (error === undefined || error === null) {
          (end as (...a: unknown[]) => Response).apply(res, args);
          return;
        }
        // The response the handler prepared is dropped: the error handlers answer instead, without the
        // session (express-session then neither saves it again nor sets its cookie).
        res.end = end;
        delete (req as { session?: unknown }).session;
        next(error);
      });
      return res;
    } as Response["end"];
    runWithBudget(req, next);
  };
}

/** What express-session compares to tell a changed session: its data without the cookie. */
function fingerprint(session: Session): string {
  const { cookie, ...data } = session;
  return JSON.stringify(data);
}
