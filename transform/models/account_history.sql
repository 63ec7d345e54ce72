select
    "accountId"::text as "id",
    {{ epoch_ms(json_number('metadata', 'auto,firstvisit')) }} as "first_visit",
    {{ json_number('metadata', 'auto,idhash') }}::bigint as "id_hash",
    {{ epoch_ms('"lastupdated"') }} as "last_updated_at",
    {{ epoch_ms(json_number('metadata', 'auto,lastvisit')) }} as "last_visit",
    {{ synced() }}
from {{ source('tap_pendo', 'accounts') }}
