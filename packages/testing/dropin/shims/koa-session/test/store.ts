// sessionbridge drop-in run (packages/testing/dropin): the suite's external store is sessionbridge's
// koa-session store on a real Redis (SESSIONBRIDGE_DROPIN_URL).
import { createSessionStore } from '@sessionbridge/core';
import { createKoaStore } from '@sessionbridge/koa';

const core = createSessionStore({ url: process.env.SESSIONBRIDGE_DROPIN_URL as string, prefix: `dropin:${process.pid}:store:` });
after(() => core.close());

export default createKoaStore(core);
