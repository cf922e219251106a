-- tradedb migration 0001: the order flow as server-side functions — placing an order through the
-- pre-trade check, status changes by the transition table, and fills (trade, order, position,
-- event) — and the open-orders index they read. They run with the caller's rights (SECURITY
-- INVOKER), so the row-level security policies apply inside them as to any query. One call does a whole step in
-- one round trip; the TypeScript services call these and nothing else writes orders, fills or
-- positions one at a time.
--
-- Errors the services turn into typed errors carry their own SQLSTATE (class TD) and, in DETAIL,
-- JSON with the facts:
--   TDNF1 not found            {"what": "account"|"symbol"|"order", "key": ...}
--   TDDC1 client order id reused for a different order   {"clientOrderId": ..., "differences": [...]}
--   TDFR1 fill rejected        (the message says why)
--   TDIT1 illegal transition   {"orderId": ..., "from": ..., "to": ...}
--   TDCU1 version moved        {"what": ..., "expectedVersion": ...}

\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

-- Open orders per account and symbol, the hot set of the pre-trade check, with pending_cancel
-- (the index of 03 predates that status and so could not serve the check).
CREATE INDEX IF NOT EXISTS idx_orders_open_account_id_symbol
    ON execution.orders (account_id, symbol, side)
    WHERE status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel');
DROP INDEX IF EXISTS execution.idx_orders_account_id_status;

-- Every legal change of an order's status: src/services/execution/order-state-machine.ts holds
-- the same table (a test keeps the two equal). filled, cancelled, rejected and expired are final.
CREATE TABLE IF NOT EXISTS execution.order_status_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO execution.order_status_transitions (from_status, to_status) VALUES
    ('pending', 'submitted'), ('pending', 'cancelled'), ('pending', 'rejected'),
    ('submitted', 'partially_filled'), ('submitted', 'pending_cancel'), ('submitted', 'filled'),
    ('submitted', 'cancelled'), ('submitted', 'rejected'), ('submitted', 'expired'),
    ('partially_filled', 'partially_filled'), ('partially_filled', 'pending_cancel'),
    ('partially_filled', 'filled'), ('partially_filled', 'cancelled'), ('partially_filled', 'expired'),
    ('pending_cancel', 'pending_cancel'), ('pending_cancel', 'filled'), ('pending_cancel', 'cancelled'),
    ('pending_cancel', 'expired')
ON CONFLICT DO NOTHING;

-- The newest close of a symbol at any interval, each interval probed through the primary key
-- (symbol, interval, ts) backwards. (Helpers here are plpgsql, not sql: plpgsql keeps its plans
-- for the session, where a non-inlined sql function plans its query again in every transaction.) With as_of, only bars that had ended by then count (a bar's
-- close is known at its start plus its length: no look-ahead).
CREATE OR REPLACE FUNCTION data_ingestion.latest_close(close_symbol text, as_of timestamptz DEFAULT NULL)
    RETURNS numeric
    LANGUAGE plpgsql
    STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT c.close
              FROM (VALUES ('1m', interval '1 minute'), ('5m', interval '5 minutes'), ('15m', interval '15 minutes'),
                           ('30m', interval '30 minutes'), ('1h', interval '1 hour'), ('1d', interval '1 day'),
                           ('1wk', interval '7 days'), ('1mo', interval '1 month')) AS i (name, length)
             CROSS JOIN LATERAL (SELECT m.close, m.ts + i.length AS ends FROM data_ingestion.market_data m
                                  WHERE m.symbol = close_symbol AND m.interval = i.name
                                    AND m.ts <= coalesce(as_of, 'infinity')
                                    AND m.ts + i.length <= coalesce(as_of, 'infinity')
                                  ORDER BY m.ts DESC LIMIT 1) AS c
             ORDER BY c.ends DESC
             LIMIT 1);
END
$$;

-- The transaction acts for this account from here on (the setting the policies read). A
-- transaction already acting for another account may not switch.
CREATE OR REPLACE FUNCTION shared.act_for_account(account text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting text := current_setting('tradedb.account_id', true);
BEGIN
    IF coalesce(acting, '') NOT IN ('', account) THEN
        RAISE EXCEPTION 'this transaction acts for account %; it may not act for account % too', acting, account
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('tradedb.account_id', account, true);
END
$$;

-- A fill's effect on a position, the one formula (src/services/execution/position-math.ts is the
-- same in exact integers for the batch path; a test keeps the two equal):
-- adding to the position (or opening it) makes the average cost the quantity-weighted mean;
-- reducing it realizes (price − average cost) per unit closed, signed by the side held, and keeps
-- the average cost; flipping through zero realizes the closed part and opens the rest at the
-- price; fees always reduce realized P&L. signed_quantity is + for a buy, − for a sell.
CREATE OR REPLACE FUNCTION execution.position_after_fill(
    quantity numeric, average_cost numeric, signed_quantity numeric, price numeric, fees numeric,
    OUT new_quantity numeric, OUT new_average_cost numeric, OUT realized numeric)
    LANGUAGE plpgsql
    IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    new_quantity := quantity + signed_quantity;
    realized := -fees;
    IF new_quantity = 0 THEN
        new_average_cost := 0;
    ELSIF quantity = 0 OR sign(quantity) = sign(signed_quantity) THEN
        new_average_cost := round((abs(quantity) * average_cost + abs(signed_quantity) * price) / abs(new_quantity), 8);
    ELSIF sign(new_quantity) = sign(quantity) THEN
        new_average_cost := average_cost;
    ELSE
        new_average_cost := price;
    END IF;
    IF quantity <> 0 AND sign(quantity) <> sign(signed_quantity) THEN
        realized := realized + round(least(abs(quantity), abs(signed_quantity)) * (price - average_cost) * sign(quantity), 8);
    END IF;
END
$$;

-- The position of account × symbol, created if missing, locked until the transaction ends:
-- fills of one position (and the risk checks reading it) queue on this row.
CREATE OR REPLACE FUNCTION execution.lock_position(position_account text, position_symbol text)
    RETURNS execution.positions
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked execution.positions;
BEGIN
    SELECT * INTO locked FROM execution.positions p
     WHERE p.account_id = position_account AND p.symbol = position_symbol FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO execution.positions (account_id, symbol) VALUES (position_account, position_symbol)
        ON CONFLICT (account_id, symbol) DO NOTHING;
        SELECT * INTO locked FROM execution.positions p
         WHERE p.account_id = position_account AND p.symbol = position_symbol FOR UPDATE;
    END IF;
    RETURN locked;
END
$$;

-- Applies a fill to its position, under the position's row lock: returns the position after it
-- and what the fill realized (fees included).
CREATE OR REPLACE FUNCTION execution.apply_fill_to_position(
    fill_account text, fill_symbol text, fill_side text, fill_quantity numeric, fill_price numeric, fill_fees numeric,
    OUT position_row execution.positions, OUT realized numeric)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    effect record;
BEGIN
    position_row := execution.lock_position(fill_account, fill_symbol);
    SELECT * INTO effect
      FROM execution.position_after_fill(position_row.quantity, position_row.average_cost,
                                         CASE fill_side WHEN 'buy' THEN fill_quantity ELSE -fill_quantity END,
                                         fill_price, fill_fees);
    UPDATE execution.positions p
       SET quantity = effect.new_quantity, average_cost = effect.new_average_cost,
           realized_pnl = p.realized_pnl + effect.realized, version = p.version + 1
     WHERE p.account_id = fill_account AND p.symbol = fill_symbol
    RETURNING p.* INTO position_row;
    realized := effect.realized;
END
$$;

-- What the account's open orders on one side of a symbol could still add to its position (signed).
CREATE OR REPLACE FUNCTION execution.open_order_remaining(order_account text, order_symbol text, order_side text)
    RETURNS numeric
    LANGUAGE plpgsql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT coalesce(sum(o.quantity - o.filled_quantity), 0) * CASE order_side WHEN 'buy' THEN 1 ELSE -1 END
              FROM execution.orders o
             WHERE o.account_id = order_account AND o.symbol = order_symbol AND o.side = order_side
               AND o.status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel'));
END
$$;

-- The pre-trade check, run inside the order's transaction, the order counting among the open
-- orders (order_stored: it is already inserted as pending; else it is added to what the open
-- orders hold): the kill switch, the symbol's position limit, then every
-- enabled limit of the account, of the order's symbol and of its strategy. Placements of one
-- account are serialized (an advisory lock) and the position is read under its row lock, so two
-- orders — or an order and a fill — cannot both pass on the same room. A value equal to its limit
-- passes; the daily loss limit stops trading once the loss reaches it. No rows: the order may go.
CREATE OR REPLACE FUNCTION risk_management.check_order(
    order_account text, order_symbol text, order_side text, order_quantity numeric,
    order_limit_price numeric, order_stop_price numeric, order_strategy_id bigint, order_stored boolean)
    RETURNS TABLE (breach_limit_id bigint, breach_type text, breach_detail text, breach_context jsonb)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kill_enabled   boolean;
    kill_reason    text;
    side_limit     numeric;
    limit_row      record;
    price          numeric;
    price_read     boolean := false;
    scope_symbol   text;
    scope_strategy bigint;
    measured       numeric;
    finding        text;
    -- What the order adds to the open orders when it is not stored yet.
    unstored       numeric := CASE WHEN order_stored THEN 0 ELSE order_quantity END;
    unstored_signed numeric := CASE WHEN order_side = 'buy' THEN unstored ELSE -unstored END;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tradedb.order-placement'), hashtext(order_account));

    SELECT coalesce((c.value->>'enabled')::boolean, false), c.value->>'reason' INTO kill_enabled, kill_reason
      FROM shared.system_config c WHERE c.key = 'trading.kill_switch';
    IF kill_enabled THEN
        RETURN QUERY SELECT NULL::bigint, 'kill_switch'::text,
            format('the kill switch is on%s; no new orders', coalesce(': ' || nullif(kill_reason, ''), '')), '{}'::jsonb;
        RETURN;
    END IF;

    -- The symbol's position limit: how long (or short) the position could get with every open
    -- order on this side filled, this one included.
    SELECT CASE order_side WHEN 'buy' THEN l.max_long_quantity ELSE l.max_short_quantity END INTO side_limit
      FROM risk_management.position_limits l
     WHERE l.account_id = order_account AND l.symbol = order_symbol AND l.enabled;
    IF side_limit IS NOT NULL THEN
        measured := (execution.lock_position(order_account, order_symbol)).quantity
                    + execution.open_order_remaining(order_account, order_symbol, order_side) + unstored_signed;
        IF (order_side = 'buy' AND measured > side_limit) OR (order_side = 'sell' AND -measured > side_limit) THEN
            RETURN QUERY SELECT NULL::bigint, 'position_limit'::text,
                format('position limit %s %s %s: the position could reach %s', order_symbol,
                       CASE order_side WHEN 'buy' THEN 'long' ELSE 'short' END, trim_scale(side_limit), trim_scale(measured)),
                jsonb_build_object('value', trim_scale(measured)::text, 'limit', trim_scale(side_limit)::text, 'scope', 'symbol');
        END IF;
    END IF;

    FOR limit_row IN
        SELECT l.id, l.scope, l.limit_type, l.limit_value
          FROM risk_management.risk_limits l
         WHERE l.account_id = order_account AND l.enabled
           AND (l.scope = 'account' OR (l.scope = 'symbol' AND l.symbol = order_symbol)
                OR (l.scope = 'strategy' AND l.strategy_id = order_strategy_id))
         ORDER BY l.id
    LOOP
        scope_symbol := CASE WHEN limit_row.scope = 'symbol' THEN order_symbol END;
        scope_strategy := CASE WHEN limit_row.scope = 'strategy' THEN order_strategy_id END;
        IF limit_row.limit_type IN ('max_order_notional', 'max_gross_exposure') THEN
            IF NOT price_read THEN
                price := coalesce(order_limit_price, order_stop_price, data_ingestion.latest_close(order_symbol));
                price_read := true;
            END IF;
            IF price IS NULL THEN
                RETURN QUERY SELECT limit_row.id, 'no_reference_price'::text,
                    format('%s needs a price for %s: give a limit price, or load bars for it', limit_row.limit_type, order_symbol), '{}'::jsonb;
                CONTINUE;
            END IF;
        END IF;

        finding := NULL;
        CASE limit_row.limit_type
        WHEN 'max_order_notional' THEN
            measured := order_quantity * price;
            IF measured > limit_row.limit_value THEN
                finding := format('the order''s notional would be %s', trim_scale(measured));
            END IF;
        WHEN 'max_position_quantity' THEN
            -- Positions are per symbol: an account-wide limit caps each symbol's position.
            measured := (execution.lock_position(order_account, order_symbol)).quantity
                        + execution.open_order_remaining(order_account, order_symbol, order_side) + unstored_signed;
            IF abs(measured) > limit_row.limit_value THEN
                finding := format('the position could reach %s', trim_scale(measured));
            END IF;
        WHEN 'max_open_orders' THEN
            SELECT count(*) INTO measured FROM execution.orders o
             WHERE o.account_id = order_account
               AND o.status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel')
               AND (scope_symbol IS NULL OR o.symbol = scope_symbol)
               AND (scope_strategy IS NULL OR o.strategy_id = scope_strategy);
            measured := measured + CASE WHEN order_stored THEN 0 ELSE 1 END;
            IF measured > limit_row.limit_value THEN
                finding := format('this would be open order number %s', measured);
            END IF;
        WHEN 'max_gross_exposure' THEN
            -- Σ |quantity| × last close (average cost where there are no bars) over the positions,
            -- plus what open orders would add at their limit or stop price, else the last close.
            PERFORM execution.lock_position(order_account, order_symbol);
            SELECT coalesce((SELECT sum(abs(p.quantity) * coalesce(data_ingestion.latest_close(p.symbol), p.average_cost))
                               FROM execution.positions p
                              WHERE p.account_id = order_account AND (scope_symbol IS NULL OR p.symbol = scope_symbol)), 0)
                 + coalesce((SELECT sum((o.quantity - o.filled_quantity)
                                        * coalesce(o.limit_price, o.stop_price, data_ingestion.latest_close(o.symbol)))
                               FROM execution.orders o
                              WHERE o.account_id = order_account
                                AND o.status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel')
                                AND (scope_symbol IS NULL OR o.symbol = scope_symbol)), 0)
                 + unstored * price
              INTO measured;
            IF measured > limit_row.limit_value THEN
                finding := format('gross exposure would be %s', trim_scale(measured));
            END IF;
        WHEN 'max_daily_loss' THEN
            SELECT coalesce(sum(t.realized_pnl), 0) INTO measured FROM execution.trades t
             WHERE t.account_id = order_account AND t.executed_at >= date_trunc('day', now(), 'UTC')
               AND (scope_symbol IS NULL OR t.symbol = scope_symbol);
            IF measured <= -limit_row.limit_value THEN
                finding := format('today''s realized P&L is %s', trim_scale(measured));
            END IF;
        END CASE;

        IF finding IS NOT NULL THEN
            RETURN QUERY SELECT limit_row.id, limit_row.limit_type,
                format('%s %s (%s%s): %s', limit_row.limit_type, trim_scale(limit_row.limit_value), limit_row.scope,
                       coalesce(' ' || scope_symbol, ''), finding),
                jsonb_build_object('value', trim_scale(measured)::text, 'limit', trim_scale(limit_row.limit_value)::text,
                                   'scope', limit_row.scope);
        END IF;
    END LOOP;
END
$$;

-- An order may be placed only for an active account on an active symbol (TDNF1 names which).
CREATE OR REPLACE FUNCTION execution.require_tradable(order_account text, order_symbol text)
    RETURNS void
    LANGUAGE plpgsql
    STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM shared.accounts a WHERE a.account_id = order_account AND a.status = 'active') THEN
        RAISE EXCEPTION 'Unknown account % (or it is not active).', order_account
            USING ERRCODE = 'TDNF1', DETAIL = jsonb_build_object('what', 'account', 'key', order_account || ' (or it is not active)')::text;
    END IF;
    IF NOT EXISTS (SELECT FROM data_ingestion.symbols s WHERE s.symbol = order_symbol AND s.status = 'active') THEN
        RAISE EXCEPTION 'Unknown symbol % (or it is not active).', order_symbol
            USING ERRCODE = 'TDNF1', DETAIL = jsonb_build_object('what', 'symbol', 'key', order_symbol || ' (or it is not active)')::text;
    END IF;
END
$$;

-- The pre-trade check's breaches as a JSON array (empty: the order may go), in check order.
CREATE OR REPLACE FUNCTION execution.order_breaches(
    order_account text, order_symbol text, order_side text, order_quantity numeric, order_limit_price numeric,
    order_stop_price numeric, order_strategy_id bigint, order_stored boolean)
    RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('limitId', c.limit_id, 'type', c.type, 'detail', c.detail,
                                                         'context', c.context) ORDER BY c.n), '[]')
              FROM risk_management.check_order(order_account, order_symbol, order_side, order_quantity, order_limit_price,
                                               order_stop_price, order_strategy_id, order_stored)
                   WITH ORDINALITY AS c (limit_id, type, detail, context, n));
END
$$;

-- Rejects a pending order the risk check refused, in the caller's transaction: the status, an
-- event naming the breaches, and a risk event each.
CREATE OR REPLACE FUNCTION execution.reject_order(pending execution.orders, breaches jsonb)
    RETURNS execution.orders
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    order_account text := pending.account_id;
    order_symbol  text := pending.symbol;
    order_side    text := pending.side;
    order_quantity numeric := pending.quantity;
    order_row     execution.orders;
    breach        record;
BEGIN
    UPDATE execution.orders o SET status = 'rejected', version = o.version + 1
     WHERE o.account_id = order_account AND o.id = pending.id
    RETURNING o.* INTO order_row;
    INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason, payload)
    SELECT order_account, order_row.id, 'pending', 'rejected',
           'risk check: ' || string_agg(b.value->>'type', ', ' ORDER BY b.n), jsonb_build_object('breaches', breaches)
      FROM jsonb_array_elements(breaches) WITH ORDINALITY AS b (value, n);
    FOR breach IN SELECT b.value FROM jsonb_array_elements(breaches) WITH ORDINALITY AS b (value, n) ORDER BY b.n LOOP
        PERFORM risk_management.record_risk_event(
            order_account, (breach.value->>'limitId')::bigint, breach.value->>'type',
            CASE breach.value->>'type' WHEN 'kill_switch' THEN 'critical' ELSE 'error' END, breach.value->>'detail',
            (breach.value->'context') || jsonb_build_object('symbol', order_symbol, 'side', order_side,
                                                             'quantity', trim_scale(order_quantity)::text),
            order_row.id);
    END LOOP;
    RETURN order_row;
END
$$;

-- Places an order: the order and its first event, then the pre-trade check; breaches reject it in
-- the same transaction, with an event and a risk event each. A used client order id returns the
-- stored order (created false) if it is the same order, and raises TDDC1 if not.
CREATE OR REPLACE FUNCTION execution.place_order(
    order_account text, order_client_id text, order_symbol text, order_side text, order_type_name text,
    order_time_in_force text, order_quantity numeric, order_limit_price numeric, order_stop_price numeric,
    order_strategy_id bigint, order_signal_id bigint,
    OUT order_row execution.orders, OUT created boolean, OUT breaches jsonb)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    differences text[];
BEGIN
    PERFORM shared.act_for_account(order_account);
    PERFORM execution.require_tradable(order_account, order_symbol);

    INSERT INTO execution.orders AS o (account_id, client_order_id, symbol, side, order_type, time_in_force,
                                       quantity, limit_price, stop_price, strategy_id, signal_id)
    VALUES (order_account, order_client_id, order_symbol, order_side, order_type_name, order_time_in_force,
            order_quantity, order_limit_price, order_stop_price, order_strategy_id, order_signal_id)
    ON CONFLICT (account_id, client_order_id) DO NOTHING
    RETURNING o.* INTO order_row;

    IF NOT FOUND THEN
        -- A retried placement: it must be the same order, else the id was reused by mistake.
        SELECT o.* INTO order_row FROM execution.orders o
         WHERE o.account_id = order_account AND o.client_order_id = order_client_id;
        differences := array_remove(ARRAY[
            CASE WHEN order_row.symbol IS DISTINCT FROM order_symbol THEN 'symbol' END,
            CASE WHEN order_row.side IS DISTINCT FROM order_side THEN 'side' END,
            CASE WHEN order_row.order_type IS DISTINCT FROM order_type_name THEN 'orderType' END,
            CASE WHEN order_row.time_in_force IS DISTINCT FROM order_time_in_force THEN 'timeInForce' END,
            CASE WHEN order_row.quantity IS DISTINCT FROM order_quantity THEN 'quantity' END,
            CASE WHEN order_row.limit_price IS DISTINCT FROM order_limit_price THEN 'limitPrice' END,
            CASE WHEN order_row.stop_price IS DISTINCT FROM order_stop_price THEN 'stopPrice' END,
            CASE WHEN order_row.strategy_id IS DISTINCT FROM order_strategy_id THEN 'strategyId' END,
            CASE WHEN order_row.signal_id IS DISTINCT FROM order_signal_id THEN 'signalId' END], NULL);
        IF cardinality(differences) > 0 THEN
            RAISE EXCEPTION 'Client order id % was already used for a different order (% differ); use a new id.',
                order_client_id, array_to_string(differences, ', ')
                USING ERRCODE = 'TDDC1', DETAIL = jsonb_build_object('clientOrderId', order_client_id, 'differences', differences)::text;
        END IF;
        created := false;
        breaches := '[]';
        RETURN;
    END IF;

    created := true;
    INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason)
    VALUES (order_account, order_row.id, NULL, 'pending', 'placed');

    breaches := execution.order_breaches(order_account, order_symbol, order_side, order_quantity, order_limit_price,
                                         order_stop_price, order_strategy_id, true);
    IF jsonb_array_length(breaches) > 0 THEN
        order_row := execution.reject_order(order_row, breaches);
    END IF;
END
$$;

-- Moves an order to a new status: locked, checked against the transition table, event appended.
-- With expected_version (a user-facing edit of the order the user saw), a version that moved
-- meanwhile raises TDCU1.
CREATE OR REPLACE FUNCTION execution.change_order_status(
    order_account text, change_order_id bigint, new_status text, change_reason text,
    expected_version integer DEFAULT NULL, new_broker_order_id text DEFAULT NULL)
    RETURNS execution.orders
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked_order execution.orders;
    changed execution.orders;
BEGIN
    PERFORM shared.act_for_account(order_account);
    SELECT o.* INTO locked_order FROM execution.orders o WHERE o.account_id = order_account AND o.id = change_order_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Unknown order % of account %.', change_order_id, order_account
            USING ERRCODE = 'TDNF1', DETAIL = jsonb_build_object('what', 'order', 'key', format('%s of account %s', change_order_id, order_account))::text;
    END IF;
    IF expected_version IS NOT NULL AND expected_version <> locked_order.version THEN
        RAISE EXCEPTION 'Order % was changed by someone else (expected version %).', change_order_id, expected_version
            USING ERRCODE = 'TDCU1', DETAIL = jsonb_build_object('what', format('Order %s', change_order_id), 'expectedVersion', expected_version)::text;
    END IF;
    IF NOT EXISTS (SELECT FROM execution.order_status_transitions t WHERE t.from_status = locked_order.status AND t.to_status = new_status) THEN
        RAISE EXCEPTION 'Order % is %; it cannot become %.', change_order_id, locked_order.status, new_status
            USING ERRCODE = 'TDIT1', DETAIL = jsonb_build_object('orderId', change_order_id, 'from', locked_order.status, 'to', new_status)::text;
    END IF;
    UPDATE execution.orders o
       SET status = new_status, version = o.version + 1, broker_order_id = coalesce(new_broker_order_id, o.broker_order_id),
           submitted_at = CASE WHEN new_status = 'submitted' THEN now() ELSE o.submitted_at END
     WHERE o.account_id = order_account AND o.id = change_order_id
    RETURNING o.* INTO changed;
    INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason)
    VALUES (order_account, change_order_id, locked_order.status, new_status, change_reason);
    RETURN changed;
END
$$;

-- Records one fill: the trade, the order's filled quantity, average price and status, the
-- position, and the order event. The order row is locked first, so fills of one order and a
-- cancel racing them queue; fills of different orders on one position queue on the position's
-- row. A fill id seen before returns the recorded trade (duplicate true) and changes nothing.
CREATE OR REPLACE FUNCTION execution.record_fill(
    fill_account text, fill_order_id bigint, fill_id text, fill_quantity numeric, fill_price numeric,
    fill_fees numeric, fill_executed_at timestamptz,
    OUT trade_row execution.trades, OUT order_row execution.orders, OUT position_row execution.positions,
    OUT duplicate boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked_order     execution.orders;
    remaining   numeric;
    next_status text;
    effect       record;
BEGIN
    PERFORM shared.act_for_account(fill_account);
    SELECT o.* INTO locked_order FROM execution.orders o WHERE o.account_id = fill_account AND o.id = fill_order_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Unknown order % of account %.', fill_order_id, fill_account
            USING ERRCODE = 'TDNF1', DETAIL = jsonb_build_object('what', 'order', 'key', format('%s of account %s', fill_order_id, fill_account))::text;
    END IF;

    SELECT t.* INTO trade_row FROM execution.trades t WHERE t.account_id = fill_account AND t.broker_fill_id = fill_id;
    IF FOUND THEN
        -- A redelivered fill must be the same fill; a fill id reused for something else is an error.
        IF trade_row.order_id <> locked_order.id OR trade_row.quantity <> fill_quantity OR trade_row.price <> fill_price
           OR trade_row.fees <> fill_fees THEN
            RAISE EXCEPTION 'Fill id % is already recorded (order %, % at %, fees %); this delivery differs.', fill_id,
                trade_row.order_id, trim_scale(trade_row.quantity), trim_scale(trade_row.price), trim_scale(trade_row.fees)
                USING ERRCODE = 'TDFR1';
        END IF;
        order_row := locked_order;
        duplicate := true;
        RETURN;
    END IF;

    IF NOT EXISTS (SELECT FROM execution.order_status_transitions t WHERE t.from_status = locked_order.status AND t.to_status = 'filled') THEN
        RAISE EXCEPTION 'Order % is %; it takes no fills%.', locked_order.id, replace(locked_order.status, '_', ' '),
            CASE locked_order.status WHEN 'pending' THEN ' before it is submitted' ELSE '' END
            USING ERRCODE = 'TDFR1';
    END IF;
    remaining := locked_order.quantity - locked_order.filled_quantity;
    IF fill_quantity > remaining THEN
        RAISE EXCEPTION 'Fill % of % is more than the % that remain of order %.', fill_id, trim_scale(fill_quantity),
            trim_scale(remaining), locked_order.id
            USING ERRCODE = 'TDFR1';
    END IF;
    next_status := CASE WHEN fill_quantity = remaining THEN 'filled'
                        WHEN locked_order.status = 'pending_cancel' THEN 'pending_cancel'
                        ELSE 'partially_filled' END;

    UPDATE execution.orders o
       SET average_fill_price = round((coalesce(o.average_fill_price, 0) * o.filled_quantity + fill_quantity * fill_price)
                                      / (o.filled_quantity + fill_quantity), 8),
           filled_quantity = o.filled_quantity + fill_quantity, status = next_status, version = o.version + 1
     WHERE o.account_id = fill_account AND o.id = locked_order.id
    RETURNING o.* INTO order_row;

    SELECT * INTO effect
      FROM execution.apply_fill_to_position(fill_account, locked_order.symbol, locked_order.side, fill_quantity, fill_price, fill_fees);
    position_row := effect.position_row;

    INSERT INTO execution.trades AS t (account_id, order_id, broker_fill_id, symbol, side, quantity, price, fees, realized_pnl, executed_at)
    VALUES (fill_account, locked_order.id, fill_id, locked_order.symbol, locked_order.side, fill_quantity, fill_price, fill_fees, effect.realized, fill_executed_at)
    ON CONFLICT (account_id, broker_fill_id) DO NOTHING
    RETURNING t.* INTO trade_row;
    IF NOT FOUND THEN
        -- The order lock does not cover a fill id reused on another order at this instant.
        RAISE EXCEPTION 'Fill % was recorded meanwhile for another order; fill ids must be unique per account.', fill_id
            USING ERRCODE = 'TDFR1';
    END IF;

    INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason, payload)
    VALUES (fill_account, locked_order.id, locked_order.status, next_status, 'fill',
            jsonb_build_object('tradeId', trade_row.id, 'brokerFillId', fill_id, 'quantity', trim_scale(fill_quantity)::text,
                               'price', trim_scale(fill_price)::text, 'fees', trim_scale(fill_fees)::text));
    duplicate := false;
END
$$;

-- The whole life of an order that fills at once — placed, risk-checked, submitted, filled — in
-- one call: the paper broker's immediate fills, and the order-flow benchmark's unit of work. The
-- risk check counts the order before it is stored, so an order that passes is written once, in
-- its final state, with the three events of its life (placed, submitted, the fill); one it
-- refuses is stored as rejected, with its breaches returned (which the caller commits). A client
-- order id seen before takes the step-by-step path: the same-order check, then the fill, once.
CREATE OR REPLACE FUNCTION execution.execute_order(
    order_account text, order_client_id text, order_symbol text, order_side text, order_type_name text,
    order_time_in_force text, order_quantity numeric, order_limit_price numeric, order_stop_price numeric,
    order_strategy_id bigint, order_signal_id bigint,
    fill_id text, fill_quantity numeric, fill_price numeric, fill_fees numeric, fill_executed_at timestamptz,
    OUT trade_row execution.trades, OUT order_row execution.orders, OUT position_row execution.positions,
    OUT duplicate boolean, OUT breaches jsonb)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    placement      record;
    fill           record;
    applied        record;
    initial_status text;
BEGIN
    PERFORM shared.act_for_account(order_account);
    IF EXISTS (SELECT FROM execution.orders o WHERE o.account_id = order_account AND o.client_order_id = order_client_id) THEN
        SELECT * INTO placement
          FROM execution.place_order(order_account, order_client_id, order_symbol, order_side, order_type_name,
                                     order_time_in_force, order_quantity, order_limit_price, order_stop_price,
                                     order_strategy_id, order_signal_id);
        SELECT * INTO fill
          FROM execution.record_fill(order_account, (placement.order_row).id, fill_id, fill_quantity, fill_price,
                                     fill_fees, fill_executed_at);
        trade_row := fill.trade_row;
        order_row := fill.order_row;
        position_row := fill.position_row;
        duplicate := fill.duplicate;
        breaches := '[]';
        RETURN;
    END IF;

    PERFORM execution.require_tradable(order_account, order_symbol);
    IF fill_quantity > order_quantity THEN
        RAISE EXCEPTION 'Fill % of % is more than the order''s quantity %.', fill_id, trim_scale(fill_quantity),
            trim_scale(order_quantity)
            USING ERRCODE = 'TDFR1';
    END IF;
    breaches := execution.order_breaches(order_account, order_symbol, order_side, order_quantity, order_limit_price,
                                         order_stop_price, order_strategy_id, false);

    initial_status := CASE WHEN jsonb_array_length(breaches) > 0 THEN 'pending'
                           WHEN fill_quantity = order_quantity THEN 'filled' ELSE 'partially_filled' END;
    INSERT INTO execution.orders AS o (account_id, client_order_id, symbol, side, order_type, time_in_force, quantity,
                                       limit_price, stop_price, strategy_id, signal_id, status, filled_quantity,
                                       average_fill_price, submitted_at)
    VALUES (order_account, order_client_id, order_symbol, order_side, order_type_name, order_time_in_force, order_quantity,
            order_limit_price, order_stop_price, order_strategy_id, order_signal_id, initial_status,
            CASE WHEN initial_status = 'pending' THEN 0 ELSE fill_quantity END,
            CASE WHEN initial_status = 'pending' THEN NULL ELSE round(fill_price, 8) END,
            CASE WHEN initial_status = 'pending' THEN NULL ELSE now() END)
    ON CONFLICT (account_id, client_order_id) DO NOTHING
    RETURNING o.* INTO order_row;
    IF NOT FOUND THEN
        -- The same client order id was placed meanwhile: run again, and take the retry path.
        RAISE EXCEPTION 'client order id % was placed concurrently', order_client_id USING ERRCODE = 'serialization_failure';
    END IF;

    IF jsonb_array_length(breaches) > 0 THEN
        INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason)
        VALUES (order_account, order_row.id, NULL, 'pending', 'placed');
        order_row := execution.reject_order(order_row, breaches);
        RETURN;
    END IF;

    SELECT * INTO applied
      FROM execution.apply_fill_to_position(order_account, order_symbol, order_side, fill_quantity, fill_price, fill_fees);
    position_row := applied.position_row;
    INSERT INTO execution.trades AS t (account_id, order_id, broker_fill_id, symbol, side, quantity, price, fees, realized_pnl, executed_at)
    VALUES (order_account, order_row.id, fill_id, order_symbol, order_side, fill_quantity, fill_price, fill_fees, applied.realized, fill_executed_at)
    ON CONFLICT (account_id, broker_fill_id) DO NOTHING
    RETURNING t.* INTO trade_row;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Fill % is already recorded for another order; fill ids must be unique per account.', fill_id
            USING ERRCODE = 'TDFR1';
    END IF;
    INSERT INTO execution.order_events (account_id, order_id, from_status, to_status, reason, payload)
    VALUES (order_account, order_row.id, NULL, 'pending', 'placed', '{}'),
           (order_account, order_row.id, 'pending', 'submitted', 'submitted to the paper broker', '{}'),
           (order_account, order_row.id, 'submitted', order_row.status, 'fill',
            jsonb_build_object('tradeId', trade_row.id, 'brokerFillId', fill_id, 'quantity', trim_scale(fill_quantity)::text,
                               'price', trim_scale(fill_price)::text, 'fees', trim_scale(fill_fees)::text));
    duplicate := false;
END
$$;

-- Beyond the grant matrix of 02 (whose default privileges already let execution_user run the
-- execution functions and every service the shared ones): the order's transaction runs the
-- risk check, and every service that reads bars may ask for the last close.
GRANT EXECUTE ON FUNCTION risk_management.check_order(text, text, text, numeric, numeric, numeric, bigint, boolean) TO execution_user;
GRANT EXECUTE ON FUNCTION data_ingestion.latest_close(text, timestamptz)
    TO strategy_engine_user, execution_user, risk_management_user, analytics_user, trading_readonly;

RESET ROLE;
RESET client_min_messages;
