# PeopleSoft supplier -> Procurify vendor (PeopleSoft is the vendor master).
#
# Input: a `vendors` document of the PeopleSoft connector
#   {setid, vendor_id, name1, name2, status, address{...}, last_modified}.
# Output: a `vendors` document of the Procurify connector, keyed by VENDOR_ID;
# the Procurify connector matches an existing vendor by external_id (PATCH)
# before creating one, so shared vendors are updated, never duplicated.
# Crosswalks fed:
#   ps_vendor[VENDOR_ID] = VENDOR_ID      (PeopleSoft has this supplier)
#   vendor[<procurify id>] = VENDOR_ID    (once Procurify answers with its id)
if .status != "A" then
  {key: .vendor_id, skip: "supplier \(.vendor_id) is inactive in PeopleSoft"}
elif xref_rev("vendor"; .vendor_id) then
  # Already linked (created from Procurify, or synchronized before): no echo.
  {key: .vendor_id, link: xref_rev("vendor"; .vendor_id),
   xref: {table: "ps_vendor", key: .vendor_id, value: .vendor_id}}
else
  {key: .vendor_id,
   body: {
     name: ([.name1, .name2] | map(select(. != null and . != "")) | join(" ")),
     external_id: .vendor_id,
     active: true
   },
   xref: [{table: "vendor", value: .vendor_id},
          {table: "ps_vendor", key: .vendor_id, value: .vendor_id}]}
end
