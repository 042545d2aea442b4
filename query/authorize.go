package query

import (
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// Allows reports whether caller, acting in namespace ns, holds resource
// with action ({namespace} in resource binds to ns, {userId} to the
// caller's user). It is the authorization primitive for the service's own
// API; the bootstrap credential is handled by the authorizer, not here.
func (e *Engine) Allows(caller events.Caller, ns, resource string, action perm.Action) (bool, error) {
	v := e.store.Acquire()
	defer v.Release()
	ev := evaluation{v: v, ns: ns, clock: e.cfg.Now}
	userID, run := e.callerEval(&ev, caller)
	if run == nil {
		return false, nil
	}
	bind := perm.RequiredBinding{Namespace: ns, UserID: userID}
	if v.HasParents() {
		bind.Parent = v.Parent
	}
	if err := ev.r.Parse(resource, action, bind); err != nil {
		return false, err
	}
	return run(), nil
}

// Holds reports whether caller holds permission p (with p's placeholders
// bound by bind, or kept unbound so that only "*" grants cover them), for
// the rule that nobody grants more than they hold. Constrained grants of
// the caller do not count.
func (e *Engine) Holds(caller events.Caller, ns string, p perm.Permission, bind perm.RequiredBinding) (bool, error) {
	v := e.store.Acquire()
	defer v.Release()
	ev := evaluation{v: v, ns: ns, clock: e.cfg.Now}
	_, run := e.callerEval(&ev, caller)
	if run == nil {
		return false, nil
	}
	if v.HasParents() && !bind.Unbound {
		bind.Parent = v.Parent
	}
	if err := ev.r.Parse(p.Resource, p.Action|p.SchedAction, bind); err != nil {
		return false, err
	}
	return run(), nil
}

// callerEval prepares the evaluation of a caller: its user id and the
// evaluation to run (nil when the caller is unknown).
func (e *Engine) callerEval(ev *evaluation, caller events.Caller) (string, func() bool) {
	switch caller.Type {
	case events.ActorUser:
		return caller.ID, func() bool { return ev.user(caller.ID) }
	case events.ActorClient:
		cl := ev.v.Client(caller.ID)
		if cl == nil {
			return "", nil
		}
		return cl.ID, func() bool { return ev.client(cl) }
	case events.ActorToken:
		t := ev.v.Token(caller.ID)
		if t == nil {
			return "", nil
		}
		return t.Owner.ID, func() bool { return ev.token(t) }
	}
	return "", nil
}
