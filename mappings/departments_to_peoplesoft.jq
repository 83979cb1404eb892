# Procurify department (cost center) -> PeopleSoft department (DEPT_CF).
#
# A department whose external_id is a DEPTID PeopleSoft has is linked; one
# with a new external_id is created under that DEPTID. A department without
# external_id cannot be placed on a GL dimension: it is skipped with the
# operator's to-do, and requisitions charged to it park until it has one.
#
# Input: a `departments` document of the Procurify connector
#   {id, name, external_id, active, location{...}}.
# New values are effective from $config.effdt (default 1900-01-01): PeopleSoft
# checks ChartFields as of the PO date, which may precede today.
# Crosswalk fed: department[<procurify id>] = DEPTID.
if .active == false then
  {key: "procurify-department-\(.id)", skip: "department \(.id) is inactive in Procurify"}
elif (.external_id // "") == "" then
  {key: "procurify-department-\(.id)",
   skip: "cost center \(.name | tojson) (Procurify department \(.id)) has no PeopleSoft DEPTID: set its external_id in Procurify"}
elif ($xref.ps_department // {})[.external_id] then
  {key: .external_id, link: .external_id, xref: {table: "department", key: .id}}
else
  {key: .external_id,
   body: {setid: $config.setid, deptid: .external_id, descr: (.name | .[0:30]), effdt: ($config.effdt // "1900-01-01"), eff_status: "A"},
   xref: [{table: "department", key: .id}, {table: "ps_department", key: .external_id}]}
end
