select
    {{ epoch_ms('"deletedAt"') }} as "deleted_at",
    "first"::text as "first_name",
    "id"::text as "id",
    "last"::text as "last_name",
    "role"::integer as "role",
    "userType"::text as "user_type",
    "username"::text as "username",
    {{ synced() }}
from {{ source('tap_pendo', 'pendo_users') }}
