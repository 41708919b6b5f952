package sqlstore

import (
	"context"
	"strings"
	"unicode/utf8"

	"mutualauth/store"
)

// AppendAudit appends e; the store assigns its ID. A zero Time is set to
// now.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO audit_events (occurred_at, actor, subject, action, result, ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		s.d.timeArg(e.Time), auditText(e.Actor), auditText(e.Subject), auditText(e.Action), auditText(e.Result),
		auditText(e.IP), auditText(e.Detail))
	return wrap("append audit", err)
}

// auditText makes s storable as text on every backend: PostgreSQL refuses
// NUL bytes and invalid UTF-8, and an attempt made with such a username
// must still be recorded. Both become U+FFFD.
func auditText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// ListAudit returns the events matching q, newest (highest ID) first.
// Actor, Subject and Result match exactly, Action as a case-sensitive
// prefix; Since is inclusive and Until exclusive. Limit defaults to 50 and
// is at most 500.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	var conds []string
	var args []any
	add := func(cond string, vals ...any) {
		conds = append(conds, cond)
		args = append(args, vals...)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Subject != "" {
		add("subject = ?", q.Subject)
	}
	if q.Action != "" {
		add("substr(action, 1, ?) = ?", utf8.RuneCountInString(q.Action), q.Action)
	}
	if q.Result != "" {
		add("result = ?", q.Result)
	}
	if !q.Since.IsZero() {
		add("occurred_at >= ?", s.d.timeArg(q.Since))
	}
	if !q.Until.IsZero() {
		add("occurred_at < ?", s.d.timeArg(q.Until))
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	query := "SELECT id, occurred_at, actor, subject, action, result, ip, detail FROM audit_events"
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, pageLimit(q.Limit))

	rows, err := s.query(ctx, s.db, query, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	defer rows.Close()
	var list []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		if err := rows.Scan(&e.ID, timeScan{&e.Time}, &e.Actor, &e.Subject, &e.Action, &e.Result, &e.IP, &e.Detail); err != nil {
			return nil, wrap("list audit", err)
		}
		list = append(list, e)
	}
	return list, wrap("list audit", rows.Err())
}
