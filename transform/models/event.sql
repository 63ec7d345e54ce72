-- Aggregated rows (one per visitor, account, server, IP, user agent and period); the period
-- start is the timestamp and tap-pendo's stable rowKey is Fivetran's row id.
select
    "accountId"::text as "account_id",
    "appId"::text as "app_id",
    "numEvents"::bigint as "num_events",
    "numMinutes"::bigint as "num_minutes",
    "pageId"::text as "page_id",
    "remoteIp"::text as "remote_ip",
    "server"::text as "server_name",
    {{ epoch_ms('coalesce("hour", "day")') }} as "timestamp",
    "userAgent"::text as "user_agent",
    "visitorId"::text as "visitor_id",
    "rowKey"::text as "_fivetran_id",
    {{ synced() }}
from {{ source('tap_pendo', 'events') }}
