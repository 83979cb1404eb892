# Procurify vendor -> PeopleSoft supplier (VNDR_ID), for vendors purchasers
# added in Procurify. Runs after vendors-to-procurify, so every supplier
# PeopleSoft already has is known (crosswalk ps_vendor).
#
# Input: a `vendors` document of the Procurify connector
#   {id, name, active, external_id, address{line1, city, state_province, postal_code, country}, ...}.
# Output: a `vendors` document of the PeopleSoft connector. Its key is NAME1,
# which is what the connector's lookup matches on, so a retry after a crash
# finds the supplier instead of creating a second one.
# Crosswalk fed: vendor[<procurify id>] = VENDOR_ID.
def name40: .[0:40];
def country3: (($config.country_codes // {})[.] // .);

if .active == false then
  {key: "procurify-vendor-\(.id)", skip: "vendor \(.id) is inactive in Procurify"}
elif (.external_id // "") != "" and ($xref.ps_vendor // {})[.external_id] then
  {key: .external_id, link: .external_id, xref: {table: "vendor", key: .id}}
else
  {key: (.name | name40),
   body: ({
     setid: $config.setid,
     name1: (.name | name40),
     name2: (if (.name | length) > 40 then .name[40:80] else null end),
     status: "A"
   } + (if (.external_id // "") != "" then {vendor_id: .external_id} else {} end)
     + (if .address.line1 then {address: {
          address1: .address.line1,
          city: .address.city,
          state: .address.state_province,
          postal: .address.postal_code,
          country: (.address.country // "" | country3)
        }} else {} end)),
   xref: {table: "vendor", key: .id}}
end
