-- One row per event; element_path is not in Pendo's API rows and stays null.
select
    "accountId"::text as "account_id",
    "appId"::text as "app_id",
    "country"::text as "country",
    null::text as "element_path",
    "guideId"::text as "guide_id",
    "guideStepId"::text as "guide_step_id",
    "latitude"::double precision as "latitude",
    "loadTime"::bigint as "load_time",
    "longitude"::double precision as "longitude",
    "region"::text as "region",
    "remoteIp"::text as "remote_ip",
    "serverName"::text as "server_name",
    {{ epoch_ms('"browserTime"') }} as "timestamp",
    "type"::text as "type",
    "url"::text as "url",
    "userAgent"::text as "user_agent",
    "visitorId"::text as "visitor_id",
    "rowKey"::text as "_fivetran_id",
    {{ synced() }}
from {{ source('tap_pendo', 'guide_events') }}
