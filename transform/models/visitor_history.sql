select
    "visitorId"::text as "id",
    {{ json_text('metadata', 'auto,accountid') }} as "account_id",
    {{ epoch_ms(json_number('metadata', 'auto,firstvisit')) }} as "first_visit",
    {{ json_number('metadata', 'auto,idhash') }}::bigint as "id_hash",
    {{ json_text('metadata', 'auto,lastbrowsername') }} as "last_browser_name",
    {{ json_text('metadata', 'auto,lastbrowserversion') }} as "last_browser_version",
    {{ json_text('metadata', 'auto,lastoperatingsystem') }} as "last_operating_system",
    {{ json_text('metadata', 'auto,lastservername') }} as "last_server_name",
    {{ epoch_ms('"lastupdated"') }} as "last_updated_at",
    {{ json_text('metadata', 'auto,lastuseragent') }} as "last_user_agent",
    {{ epoch_ms(json_number('metadata', 'auto,lastvisit')) }} as "last_visit",
    {{ json_text('metadata', 'auto,nid') }} as "n_id",
    {{ synced() }}
from {{ source('tap_pendo', 'visitors') }}
