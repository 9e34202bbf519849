-- cartlift sql --dialect snowflake --query stats: flow `abandoned-checkout`
-- Generated from the flow file; regenerate rather than edit.

CREATE OR REPLACE TEMPORARY VIEW cartlift_events AS
SELECT CAST(CAST('' AS VARCHAR) AS VARCHAR) AS src_file,
       CAST(CAST(0 AS BIGINT) AS BIGINT) AS rn,
       DATE_PART(EPOCH_MICROSECOND, ts) AS t,
       CASE event WHEN 'cart_updated' THEN 0 WHEN 'checkout_started' THEN 1 WHEN 'order_completed' THEN 2 WHEN 'order_refunded' THEN 3 WHEN 'order_cancelled' THEN 4 WHEN 'message_sent' THEN 5 WHEN 'message_suppressed' THEN 6 WHEN 'message_delivered' THEN 7 WHEN 'message_bounced' THEN 8 WHEN 'message_opened' THEN 9 WHEN 'message_clicked' THEN 10 WHEN 'unsubscribed' THEN 11 WHEN 'spam_complaint' THEN 12 END AS k,
       CAST(customer_id AS VARCHAR) AS customer_id,
       NULLIF(CAST(cart_id AS VARCHAR), '') AS cart_id,
       NULLIF(CAST(order_id AS VARCHAR), '') AS order_id,
       CASE WHEN CAST(value AS DOUBLE) = CAST('NaN' AS DOUBLE) THEN NULL ELSE CAST(value AS DOUBLE) END AS value,
       CASE WHEN CAST(discount AS DOUBLE) = CAST('NaN' AS DOUBLE) THEN NULL ELSE CAST(discount AS DOUBLE) END AS discount,
       GREATEST(COALESCE(CAST(flow_step AS BIGINT), 0), 0) AS step,
       NULLIF(CAST(channel AS VARCHAR), '') AS channel,
       NULLIF(CAST(customer_status AS VARCHAR), '') AS status
FROM analytics.events
WHERE ts IS NOT NULL AND customer_id IS NOT NULL AND CAST(customer_id AS VARCHAR) <> ''
  AND event IN ('cart_updated', 'checkout_started', 'order_completed', 'order_refunded', 'order_cancelled', 'message_sent', 'message_suppressed', 'message_delivered', 'message_bounced', 'message_opened', 'message_clicked', 'unsubscribed', 'spam_complaint');

CREATE OR REPLACE TEMPORARY TABLE cartlift_candidates AS
WITH bounds AS (
    SELECT MAX(t) AS data_end FROM cartlift_events
), statused AS (
    SELECT src_file, rn, t, k, customer_id, cart_id, order_id, value, discount,
           LAST_VALUE(status) IGNORE NULLS OVER (PARTITION BY customer_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS status
    FROM cartlift_events
), activity AS (
    SELECT src_file, rn, t, k, customer_id, cart_id, order_id, value, discount, status,
           LAG(t) OVER (PARTITION BY customer_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST) AS prev_t,
           LAG(k) OVER (PARTITION BY customer_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST) AS prev_k,
           LEAD(t) OVER (PARTITION BY customer_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST) AS next_t
    FROM statused
    WHERE k <= 2
), runs AS (
    SELECT src_file, rn, t, k, customer_id, cart_id, order_id, value, discount, status, next_t,
           SUM(CASE WHEN prev_t IS NULL OR prev_k = 2 OR t - prev_t > 3600000000 THEN 1 ELSE 0 END)
               OVER (PARTITION BY customer_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
    FROM activity
    WHERE k <= 1
), opened AS (
    SELECT src_file, rn, t, k, customer_id, cart_id, order_id, value, discount, status, next_t, run,
           MAX(CASE WHEN k IN (1) THEN 1 ELSE 0 END) OVER (PARTITION BY customer_id, run ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS is_open
    FROM runs
), carried AS (
    SELECT customer_id, t, status, next_t,
           LAST_VALUE(cart_id) IGNORE NULLS OVER (PARTITION BY customer_id, run ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cart_id,
           LAST_VALUE(value) IGNORE NULLS OVER (PARTITION BY customer_id, run ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cart_value
    FROM opened
    WHERE is_open = 1
), abandoned AS (
    SELECT c.customer_id, c.t AS abandoned_at, c.t + 3600000000 AS entered, c.cart_id, c.cart_value, c.status
    FROM carried c CROSS JOIN bounds b
    WHERE (c.next_t IS NOT NULL AND c.next_t - c.t > 3600000000)
       OR (c.next_t IS NULL AND c.t + 3600000000 <= b.data_end)
), numbered AS (
    SELECT customer_id, abandoned_at, entered, cart_id, cart_value, status,
           ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY entered) AS ci
    FROM abandoned
)
SELECT customer_id, ci, abandoned_at, entered, cart_id, cart_value, status,
       MIN(ci) OVER (PARTITION BY customer_id ORDER BY entered
                     RANGE BETWEEN 1209600000000 FOLLOWING AND UNBOUNDED FOLLOWING) AS nxt
FROM numbered;

CREATE OR REPLACE TEMPORARY TABLE cartlift_entries AS
WITH RECURSIVE chain AS (
    SELECT customer_id, ci, nxt, entered, 1 AS ordinal
    FROM cartlift_candidates
    WHERE ci = 1
    UNION ALL
    SELECT c.customer_id, c.ci, c.nxt, c.entered, h.ordinal + 1 AS ordinal
    FROM chain h
    JOIN cartlift_candidates c ON c.customer_id = h.customer_id AND c.ci = h.nxt
), bucketed AS (
    SELECT h.customer_id, h.ordinal, c.abandoned_at, c.entered, c.cart_id, c.cart_value, c.status,
           MOD(TO_NUMBER(SUBSTR(SHA2('cartlift-sample-v1' || h.customer_id, 256), 1, 8), 'XXXXXXXX'), 10000) AS bucket
    FROM chain h
    JOIN cartlift_candidates c ON c.customer_id = h.customer_id AND c.entered = h.entered
)
SELECT customer_id, ordinal, abandoned_at, entered, cart_id, cart_value, status, bucket,
       CASE WHEN bucket < 1000 THEN 'holdout' ELSE 'flow' END AS arm
FROM bucketed;

CREATE OR REPLACE TEMPORARY TABLE cartlift_messages AS
WITH timeline AS (
    SELECT customer_id, entered AS t, 0 AS src, ordinal, cart_id,
           CAST(NULL AS BIGINT) AS k, CAST(NULL AS BIGINT) AS step, CAST(NULL AS VARCHAR) AS channel
    FROM cartlift_entries
    UNION ALL
    SELECT customer_id, t, 1 AS src, CAST(NULL AS BIGINT) AS ordinal, cart_id, k, step, channel
    FROM cartlift_events
    WHERE k IN (5, 11, 12)
), marked AS (
    SELECT customer_id, t, src, cart_id, k, step, channel,
           MAX(ordinal) OVER (PARTITION BY customer_id ORDER BY t, src ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS latest,
           MAX(ordinal) OVER (PARTITION BY customer_id, cart_id ORDER BY t, src ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS same_cart
    FROM timeline
)
SELECT customer_id,
       COALESCE(CASE WHEN cart_id IS NOT NULL THEN same_cart END, latest) AS ordinal,
       t, k, step, channel
FROM marked
WHERE src = 1 AND latest IS NOT NULL;

CREATE OR REPLACE TEMPORARY TABLE cartlift_carts AS
WITH orders AS (
    SELECT customer_id, t, src_file, rn, cart_id, order_id, value, discount
    FROM (
        SELECT customer_id, t, src_file, rn, cart_id, order_id,
               COALESCE(value, CAST(0.0 AS DOUBLE)) AS value, COALESCE(discount, CAST(0.0 AS DOUBLE)) AS discount,
               ROW_NUMBER() OVER (PARTITION BY customer_id, order_id ORDER BY t, k, src_file, rn, cart_id NULLS FIRST, order_id NULLS FIRST, value NULLS FIRST, discount NULLS FIRST) AS copy
        FROM cartlift_events
        WHERE k = 2
    ) x
    WHERE copy = 1
), landed AS (
    SELECT customer_id, ordinal, entered, t, order_id, value, discount
    FROM (
        SELECT o.customer_id, e.ordinal, e.entered, o.t, o.order_id, o.value, o.discount,
               ROW_NUMBER() OVER (PARTITION BY o.customer_id, e.ordinal ORDER BY o.t, o.src_file, o.rn, o.cart_id NULLS FIRST, o.order_id NULLS FIRST, o.value NULLS FIRST, o.discount NULLS FIRST) AS pick
        FROM orders o
        JOIN cartlift_entries e
          ON o.customer_id = e.customer_id AND o.t > e.entered AND o.t <= e.entered + 604800000000
    ) x
    WHERE pick = 1
), adjusted AS (
    SELECT l.customer_id, l.ordinal,
           SUM(CASE WHEN r.k = 3 THEN r.value END) AS refunded,
           MAX(CASE WHEN r.k = 4 THEN 1 ELSE 0 END) AS cancelled
    FROM landed l
    JOIN cartlift_events r
      ON r.customer_id = l.customer_id AND r.order_id IS NOT DISTINCT FROM l.order_id
     AND r.t >= l.t AND r.t <= l.entered + 604800000000
    WHERE r.k IN (3, 4)
    GROUP BY l.customer_id, l.ordinal
), prior AS (
    SELECT e.customer_id, SUM(o.value) AS spend
    FROM cartlift_entries e
    JOIN orders o ON o.customer_id = e.customer_id AND o.t < e.entered
    WHERE e.ordinal = 1
    GROUP BY e.customer_id
), sends AS (
    SELECT m.customer_id, m.ordinal,
           SUM(CASE WHEN m.k = 5 THEN 1 ELSE 0 END) AS messages_sent,
           SUM(CASE WHEN m.k = 5 THEN CASE COALESCE(channel, 'email') WHEN 'email' THEN CAST(0.002 AS DOUBLE) WHEN 'sms' THEN CAST(0.015 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END ELSE CAST(0.0 AS DOUBLE) END) AS message_cost,
           MAX(CASE WHEN m.k = 11 AND m.t <= e.entered + 604800000000 THEN 1 ELSE 0 END) AS unsubscribed,
           MAX(CASE WHEN m.k = 12 AND m.t <= e.entered + 604800000000 THEN 1 ELSE 0 END) AS complained
    FROM cartlift_messages m
    JOIN cartlift_entries e ON e.customer_id = m.customer_id AND e.ordinal = m.ordinal
    GROUP BY m.customer_id, m.ordinal
), outcomes AS (
    SELECT e.customer_id, e.ordinal, e.arm, e.bucket, e.entered, e.cart_value, e.status,
           CASE WHEN l.t IS NULL THEN 0 ELSE 1 END AS converted,
           l.t AS order_at,
           COALESCE(a.cancelled, 0) AS cancelled,
           CASE WHEN l.t IS NULL OR COALESCE(a.cancelled, 0) = 1 THEN CAST(0.0 AS DOUBLE)
                ELSE GREATEST(l.value - COALESCE(a.refunded, CAST(0.0 AS DOUBLE)), CAST(0.0 AS DOUBLE)) END AS revenue,
           COALESCE(l.discount, CAST(0.0 AS DOUBLE)) AS discount,
           COALESCE(s.messages_sent, 0) AS messages_sent,
           COALESCE(s.message_cost, CAST(0.0 AS DOUBLE)) AS message_cost,
           COALESCE(s.unsubscribed, 0) AS unsubscribed,
           COALESCE(s.complained, 0) AS complained,
           COALESCE(p.spend, CAST(0.0 AS DOUBLE)) AS customer_prior_spend
    FROM cartlift_entries e
    LEFT JOIN landed l ON l.customer_id = e.customer_id AND l.ordinal = e.ordinal
    LEFT JOIN adjusted a ON a.customer_id = e.customer_id AND a.ordinal = e.ordinal
    LEFT JOIN sends s ON s.customer_id = e.customer_id AND s.ordinal = e.ordinal
    LEFT JOIN prior p ON p.customer_id = e.customer_id
)
SELECT customer_id, ordinal, arm, bucket, entered, cart_value,
       CASE WHEN cart_value IS NULL THEN 'unknown' WHEN cart_value < CAST(50.0 AS DOUBLE) THEN '<50' WHEN cart_value < CAST(100.0 AS DOUBLE) THEN '50-100' WHEN cart_value < CAST(200.0 AS DOUBLE) THEN '100-200' ELSE '>=200' END AS cart_value_band,
       COALESCE(status, 'unknown') AS customer_status,
       converted, order_at, cancelled, revenue, discount, messages_sent, message_cost,
       unsubscribed, complained, customer_prior_spend,
       CAST(CAST(0.45 AS DOUBLE) * (revenue + discount) - discount - CASE WHEN converted = 1 AND cancelled = 0 THEN CAST(6.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END - message_cost AS DOUBLE) AS net_contribution
FROM outcomes;

WITH units AS (
    SELECT CAST('all' AS VARCHAR) AS dimension, CAST('all' AS VARCHAR) AS segment, customer_id, arm,
           CAST(COUNT(*) AS DOUBLE) AS entries,
           CAST(SUM(converted) AS DOUBLE) AS conversions,
           SUM(revenue) AS revenue,
           SUM(net_contribution) AS net_contribution,
           CAST(MAX(unsubscribed) AS DOUBLE) AS unsubscribed,
           CAST(MAX(complained) AS DOUBLE) AS complained,
           CAST(SUM(messages_sent) AS DOUBLE) AS messages,
           MAX(customer_prior_spend) AS prior_spend
    FROM cartlift_carts
    GROUP BY customer_id, arm
    UNION ALL
    SELECT CAST('cart_value_band' AS VARCHAR) AS dimension, COALESCE(CAST(cart_value_band AS VARCHAR), 'unknown') AS segment, customer_id, arm,
           CAST(COUNT(*) AS DOUBLE) AS entries,
           CAST(SUM(converted) AS DOUBLE) AS conversions,
           SUM(revenue) AS revenue,
           SUM(net_contribution) AS net_contribution,
           CAST(MAX(unsubscribed) AS DOUBLE) AS unsubscribed,
           CAST(MAX(complained) AS DOUBLE) AS complained,
           CAST(SUM(messages_sent) AS DOUBLE) AS messages,
           MAX(customer_prior_spend) AS prior_spend
    FROM cartlift_carts
    GROUP BY customer_id, arm, cart_value_band
    UNION ALL
    SELECT CAST('customer_status' AS VARCHAR) AS dimension, COALESCE(CAST(customer_status AS VARCHAR), 'unknown') AS segment, customer_id, arm,
           CAST(COUNT(*) AS DOUBLE) AS entries,
           CAST(SUM(converted) AS DOUBLE) AS conversions,
           SUM(revenue) AS revenue,
           SUM(net_contribution) AS net_contribution,
           CAST(MAX(unsubscribed) AS DOUBLE) AS unsubscribed,
           CAST(MAX(complained) AS DOUBLE) AS complained,
           CAST(SUM(messages_sent) AS DOUBLE) AS messages,
           MAX(customer_prior_spend) AS prior_spend
    FROM cartlift_carts
    GROUP BY customer_id, arm, customer_status
), agg AS (
    SELECT dimension, segment, arm,
           CAST(COUNT(*) AS BIGINT) AS n,
           SUM(entries) AS s_entries, SUM(entries * entries) AS ss_entries, SUM(entries * entries * entries) AS sc_entries,
           CAST(SUM(CASE WHEN entries <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_entries,
           SUM(conversions) AS s_conversions, SUM(conversions * conversions) AS ss_conversions, SUM(conversions * conversions * conversions) AS sc_conversions,
           CAST(SUM(CASE WHEN conversions <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_conversions,
           SUM(revenue) AS s_revenue, SUM(revenue * revenue) AS ss_revenue, SUM(revenue * revenue * revenue) AS sc_revenue,
           CAST(SUM(CASE WHEN revenue <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_revenue,
           SUM(net_contribution) AS s_net_contribution, SUM(net_contribution * net_contribution) AS ss_net_contribution, SUM(net_contribution * net_contribution * net_contribution) AS sc_net_contribution,
           CAST(SUM(CASE WHEN net_contribution <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_net_contribution,
           SUM(unsubscribed) AS s_unsubscribed, SUM(unsubscribed * unsubscribed) AS ss_unsubscribed, SUM(unsubscribed * unsubscribed * unsubscribed) AS sc_unsubscribed,
           CAST(SUM(CASE WHEN unsubscribed <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_unsubscribed,
           SUM(complained) AS s_complained, SUM(complained * complained) AS ss_complained, SUM(complained * complained * complained) AS sc_complained,
           CAST(SUM(CASE WHEN complained <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_complained,
           SUM(prior_spend) AS s_prior_spend, SUM(prior_spend * prior_spend) AS ss_prior_spend, SUM(prior_spend * prior_spend * prior_spend) AS sc_prior_spend,
           CAST(SUM(CASE WHEN prior_spend <> 0 THEN 1 ELSE 0 END) AS DOUBLE) AS nz_prior_spend,
           SUM(conversions * entries) AS sp_conversions_entries,
           SUM(prior_spend * revenue) AS sp_prior_spend_revenue,
           SUM(prior_spend * net_contribution) AS sp_prior_spend_net_contribution,
           SUM(prior_spend * conversions) AS sp_prior_spend_conversions,
           SUM(messages) AS s_messages
    FROM units
    GROUP BY dimension, segment, arm
), rows_ AS (
SELECT dimension, segment, arm, CAST('conversion_rate' AS VARCHAR) AS metric, CAST('ratio' AS VARCHAR) AS kind, n,
       s_conversions AS sum, ss_conversions AS sum_sq, s_entries AS sum_den, ss_entries AS sum_den_sq, sp_conversions_entries AS sum_num_den,
       CAST(NULL AS DOUBLE) AS sum_cov, CAST(NULL AS DOUBLE) AS sum_cov_sq, CAST(NULL AS DOUBLE) AS sum_cov_num, CAST(NULL AS DOUBLE) AS sum_messages,
       sc_conversions AS sum_cube, nz_conversions AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       0 AS metric_order
FROM agg
UNION ALL
SELECT dimension, segment, arm, CAST('revenue_per_recipient' AS VARCHAR) AS metric, CAST('mean' AS VARCHAR) AS kind, n,
       s_revenue AS sum, ss_revenue AS sum_sq, CAST(NULL AS DOUBLE) AS sum_den, CAST(NULL AS DOUBLE) AS sum_den_sq, CAST(NULL AS DOUBLE) AS sum_num_den,
       s_prior_spend AS sum_cov, ss_prior_spend AS sum_cov_sq, sp_prior_spend_revenue AS sum_cov_num, CAST(NULL AS DOUBLE) AS sum_messages,
       sc_revenue AS sum_cube, nz_revenue AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       1 AS metric_order
FROM agg
UNION ALL
SELECT dimension, segment, arm, CAST('net_contribution_per_recipient' AS VARCHAR) AS metric, CAST('mean' AS VARCHAR) AS kind, n,
       s_net_contribution AS sum, ss_net_contribution AS sum_sq, CAST(NULL AS DOUBLE) AS sum_den, CAST(NULL AS DOUBLE) AS sum_den_sq, CAST(NULL AS DOUBLE) AS sum_num_den,
       s_prior_spend AS sum_cov, ss_prior_spend AS sum_cov_sq, sp_prior_spend_net_contribution AS sum_cov_num, CAST(NULL AS DOUBLE) AS sum_messages,
       sc_net_contribution AS sum_cube, nz_net_contribution AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       2 AS metric_order
FROM agg
UNION ALL
SELECT dimension, segment, arm, CAST('orders_per_recipient' AS VARCHAR) AS metric, CAST('mean' AS VARCHAR) AS kind, n,
       s_conversions AS sum, ss_conversions AS sum_sq, CAST(NULL AS DOUBLE) AS sum_den, CAST(NULL AS DOUBLE) AS sum_den_sq, CAST(NULL AS DOUBLE) AS sum_num_den,
       s_prior_spend AS sum_cov, ss_prior_spend AS sum_cov_sq, sp_prior_spend_conversions AS sum_cov_num, CAST(NULL AS DOUBLE) AS sum_messages,
       sc_conversions AS sum_cube, nz_conversions AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       3 AS metric_order
FROM agg
UNION ALL
SELECT dimension, segment, arm, CAST('unsubscribe_rate' AS VARCHAR) AS metric, CAST('proportion' AS VARCHAR) AS kind, n,
       s_unsubscribed AS sum, ss_unsubscribed AS sum_sq, CAST(NULL AS DOUBLE) AS sum_den, CAST(NULL AS DOUBLE) AS sum_den_sq, CAST(NULL AS DOUBLE) AS sum_num_den,
       CAST(NULL AS DOUBLE) AS sum_cov, CAST(NULL AS DOUBLE) AS sum_cov_sq, CAST(NULL AS DOUBLE) AS sum_cov_num, s_messages AS sum_messages,
       sc_unsubscribed AS sum_cube, nz_unsubscribed AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       4 AS metric_order
FROM agg
UNION ALL
SELECT dimension, segment, arm, CAST('complaint_rate' AS VARCHAR) AS metric, CAST('proportion' AS VARCHAR) AS kind, n,
       s_complained AS sum, ss_complained AS sum_sq, CAST(NULL AS DOUBLE) AS sum_den, CAST(NULL AS DOUBLE) AS sum_den_sq, CAST(NULL AS DOUBLE) AS sum_num_den,
       CAST(NULL AS DOUBLE) AS sum_cov, CAST(NULL AS DOUBLE) AS sum_cov_sq, CAST(NULL AS DOUBLE) AS sum_cov_num, s_messages AS sum_messages,
       sc_complained AS sum_cube, nz_complained AS nonzero, CAST(NULL AS DOUBLE) AS mean, CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS m3,
       5 AS metric_order
FROM agg
)
SELECT dimension, segment, arm, metric, kind, n, sum, sum_sq, sum_den, sum_den_sq, sum_num_den, sum_cov, sum_cov_sq, sum_cov_num, sum_messages, sum_cube, nonzero, mean, m2, m3
FROM rows_
ORDER BY CASE WHEN dimension = 'all' THEN 0 ELSE 1 END, dimension, segment, arm, metric_order;
